import CHDF5

/// A numeric HDF5 dataset read by hyperslabs of whole samples; libhdf5 converts any integer or
/// float type to native float on read. Not thread-safe (nor is the serial libhdf5).
final class HDF5Source: SampleSource {
    let name: String
    let count: Int
    let sampleShape: [Int]
    let elementDescription: String
    private let file: hid_t
    private let dataset: hid_t
    private let fileSpace: hid_t
    private let dims: [hsize_t]

    /// Opens `datasetPath` in `path`, or with nil, the only dataset at the file's root.
    init(path: String, datasetPath: String?) throws {
        if let error = mt_h5_load_error() { throw DatasetError(path, String(cString: error)) }
        let file = H5Fopen(path, mt_h5f_acc_rdonly(), mt_h5p_default())
        guard file >= 0 else { throw DatasetError(path, "cannot be opened as HDF5") }
        var dataset: hid_t = -1, space: hid_t = -1
        var complete = false
        defer {
            if !complete {
                if space >= 0 { H5Sclose(space) }
                if dataset >= 0 { H5Dclose(dataset) }
                H5Fclose(file)
            }
        }
        let chosen = try datasetPath ?? Self.onlyRootDataset(file: file, path: path)
        name = "\(path):\(chosen)"
        dataset = H5Dopen2(file, chosen, mt_h5p_default())
        guard dataset >= 0 else { throw DatasetError(path, "has no dataset '\(chosen)'") }
        space = H5Dget_space(dataset)
        let rank = space >= 0 ? Int(H5Sget_simple_extent_ndims(space)) : -1
        guard rank >= 1 else { throw DatasetError(name, "is not a simple dataspace with at least one axis") }
        var dims = [hsize_t](repeating: 0, count: rank)
        guard H5Sget_simple_extent_dims(space, &dims, nil) == rank else { throw DatasetError(name, "cannot read its shape") }
        elementDescription = try Self.describeType(of: dataset, name: name)
        let shape = dims.map { Int(clamping: $0) }
        count = shape[0]
        sampleShape = Array(shape.dropFirst())
        self.dims = dims
        self.file = file
        self.dataset = dataset
        fileSpace = space
        complete = true
    }

    deinit {
        H5Sclose(fileSpace)
        H5Dclose(dataset)
        H5Fclose(file)
    }

    func read(start: Int, count: Int, into destination: UnsafeMutablePointer<Float>) throws {
        try checkRange(start: start, count: count)
        guard count > 0, sampleElementCount > 0 else { return }
        var offset = [hsize_t](repeating: 0, count: dims.count)
        offset[0] = hsize_t(start)
        var extent = dims
        extent[0] = hsize_t(count)
        guard H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, offset, nil, extent, nil) >= 0 else {
            throw DatasetError(name, "cannot select samples \(start)..<\(start + count)")
        }
        let memory = H5Screate_simple(Int32(extent.count), extent, nil)
        guard memory >= 0 else { throw DatasetError(name, "cannot create a memory dataspace") }
        defer { H5Sclose(memory) }
        guard H5Dread(dataset, mt_h5t_native_float(), memory, fileSpace, mt_h5p_default(), destination) >= 0 else {
            throw DatasetError(name, "read of samples \(start)..<\(start + count) failed")
        }
    }

    /// Checks the stored type is numeric and names it, e.g. `uint8 HDF5`.
    private static func describeType(of dataset: hid_t, name: String) throws -> String {
        let type = H5Dget_type(dataset)
        guard type >= 0 else { throw DatasetError(name, "has an unreadable type") }
        defer { H5Tclose(type) }
        let bits = 8 * H5Tget_size(type)
        switch H5Tget_class(type) {
        case H5T_INTEGER: return "\(H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int")\(bits) HDF5"
        case H5T_FLOAT: return "float\(bits) HDF5"
        default: throw DatasetError(name, "is not numeric (only integer and float datasets can be read)")
        }
    }

    /// The name of the only dataset among the root group's links, or an error listing them.
    private static func onlyRootDataset(file: hid_t, path: String) throws -> String {
        var info = H5G_info_t()
        guard H5Gget_info(file, &info) >= 0 else { throw DatasetError(path, "cannot list the root group") }
        var datasets: [String] = []
        for index in 0..<info.nlinks {
            let length = H5Lget_name_by_idx(file, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, mt_h5p_default())
            guard length > 0 else { continue }
            var buffer = [CChar](repeating: 0, count: Int(length) + 1)
            _ = H5Lget_name_by_idx(file, ".", H5_INDEX_NAME, H5_ITER_INC, index, &buffer, buffer.count, mt_h5p_default())
            let link = "/" + String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let probe = H5Dopen2(file, link, mt_h5p_default())
            if probe >= 0 {
                H5Dclose(probe)
                datasets.append(link)
            }
        }
        guard datasets.count == 1 else {
            let found = datasets.isEmpty ? "none at the root" : datasets.joined(separator: ", ")
            throw DatasetError(path, "name the dataset as \(path):/group/name (datasets: \(found))")
        }
        return datasets[0]
    }
}
