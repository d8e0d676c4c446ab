import CHDF5
import ModelIR

/// An open HDF5 file or group that closes itself in `deinit` (read here; written through the
/// extension in HDF5Writing.swift). Every libhdf5 failure becomes a
/// one-line `ModelError` naming the file and the object, never a crash or a printed error stack.
final class H5Group {
    let id: hid_t
    /// The file's path, for messages.
    let file: String
    /// This group's path inside the file ("/" for the root).
    let path: String
    private let isFile: Bool
    private let parent: H5Group?

    init(id: hid_t, file: String, path: String, isFile: Bool, parent: H5Group?) {
        self.id = id
        self.file = file
        self.path = path
        self.isFile = isFile
        self.parent = parent
    }

    deinit {
        if isFile { H5Fclose(id) } else { H5Gclose(id) }
    }

    /// Opens an HDF5 file read-only as its root group.
    static func open(file: String) throws -> H5Group {
        if let error = mt_h5_load_error() { throw ModelError("\(file): \(String(cString: error))") }
        guard H5Fis_hdf5(file) > 0 else { throw ModelError("\(file): not an HDF5 file (or unreadable)") }
        let id = H5Fopen(file, mt_h5f_acc_rdonly(), mt_h5p_default())
        guard id >= 0 else { throw ModelError("\(file): cannot be opened as HDF5 (truncated or damaged?)") }
        return H5Group(id: id, file: file, path: "/", isFile: true, parent: nil)
    }

    /// The file's size in bytes. What a header declares is checked against it before anything is
    /// read, so that a hostile header cannot make us (or libhdf5's conversion buffers) allocate far
    /// more than the file could hold.
    private lazy var fileBytes: Int = {
        let handle = H5Iget_file_id(id)
        guard handle >= 0 else { return 0 }
        defer { H5Fclose(handle) }
        var size: hsize_t = 0
        return H5Fget_filesize(handle, &size) >= 0 ? Int(clamping: size) : 0
    }()

    func child(_ name: String) -> String { path == "/" ? "/" + name : path + "/" + name }

    /// True when every component of the relative path `name` exists.
    func has(_ name: String) -> Bool {
        var prefix = ""
        for part in name.split(separator: "/") {
            prefix += prefix.isEmpty ? String(part) : "/" + part
            guard H5Lexists(id, prefix, mt_h5p_default()) > 0 else { return false }
        }
        return !prefix.isEmpty
    }

    /// The subgroup at the relative path `name`.
    func group(_ name: String) throws -> H5Group {
        guard has(name) else { throw ModelError("\(file): group '\(child(name))' is missing") }
        let g = H5Gopen2(id, name, mt_h5p_default())
        guard g >= 0 else { throw ModelError("\(file): '\(child(name))' is not a readable group") }
        return H5Group(id: g, file: file, path: child(name), isFile: false, parent: self)
    }

    /// Names of the group's links, in name order.
    func childNames() throws -> [String] {
        var info = H5G_info_t()
        guard H5Gget_info(id, &info) >= 0 else { throw ModelError("\(file): cannot list group '\(path)'") }
        guard info.nlinks < 1 << 20 else { throw ModelError("\(file): group '\(path)' has an absurd link count") }
        var names: [String] = []
        for index in 0..<info.nlinks {
            let length = H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, mt_h5p_default())
            guard length > 0, length < 1 << 16 else { throw ModelError("\(file): cannot read a link name in '\(path)'") }
            var buffer = [CChar](repeating: 0, count: Int(length) + 1)
            _ = H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, index, &buffer, buffer.count, mt_h5p_default())
            names.append(String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return names
    }

    func hasAttribute(_ name: String) -> Bool { H5Aexists(id, name) > 0 }

    /// A string attribute (scalar or one-element array), or nil when absent.
    func string(attribute name: String) throws -> String? {
        guard let list = try strings(attribute: name) else { return nil }
        guard list.count == 1 else {
            throw ModelError("\(file): attribute '\(name)' of '\(path)' holds \(list.count) strings, expected one")
        }
        return list[0]
    }

    /// A list-of-strings attribute in any form Keras or h5py wrote it: variable-length or fixed-length
    /// (NUL-padded) strings, split into `name0`, `name1`, … when it outgrew HDF5's 64 KB attribute
    /// limit, or an empty numeric array meaning "no names". Nil when absent.
    func strings(attribute name: String) throws -> [String]? {
        if hasAttribute(name) { return try readStrings(name) }
        guard hasAttribute(name + "0") else { return nil }
        var all: [String] = []
        var chunk = 0
        while hasAttribute("\(name)\(chunk)") {
            all += try readStrings("\(name)\(chunk)")
            chunk += 1
        }
        return all
    }

    private func readStrings(_ name: String) throws -> [String] {
        let place = "\(file): attribute '\(name)' of '\(path)'"
        let attr = H5Aopen(id, name, mt_h5p_default())
        guard attr >= 0 else { throw ModelError("\(place) cannot be opened") }
        defer { H5Aclose(attr) }
        let type = H5Aget_type(attr), space = H5Aget_space(attr)
        defer {
            if type >= 0 { H5Tclose(type) }
            if space >= 0 { H5Sclose(space) }
        }
        guard type >= 0, space >= 0 else { throw ModelError("\(place) has an unreadable type or shape") }
        let count = Int(H5Sget_simple_extent_npoints(space))
        guard count >= 0, count < 1 << 24 else { throw ModelError("\(place) has an unreadable element count") }
        // Every stored string takes at least one byte of the file (a variable-length one, 16).
        guard count <= fileBytes else {
            throw ModelError("\(place) declares \(count) elements, more than its \(fileBytes)-byte file can hold")
        }
        switch H5Tget_class(type) {
        case H5T_STRING:
            guard count > 0 else { return [] }
            if H5Tis_variable_str(type) > 0 {
                let memory = H5Tcopy(mt_h5t_c_s1())
                defer { H5Tclose(memory) }
                H5Tset_size(memory, mt_h5t_variable())
                H5Tset_cset(memory, H5Tget_cset(type))
                var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
                guard H5Aread(attr, memory, &pointers) >= 0 else { throw ModelError("\(place) cannot be read") }
                defer { H5Dvlen_reclaim(memory, space, mt_h5p_default(), &pointers) }
                return pointers.map { $0.map { String(cString: $0) } ?? "" }
            }
            let size = H5Tget_size(type)
            guard size > 0, size < 1 << 24, size * count < 1 << 30 else { throw ModelError("\(place) has an absurd size") }
            var bytes = [UInt8](repeating: 0, count: size * count)
            guard H5Aread(attr, type, &bytes) >= 0 else { throw ModelError("\(place) cannot be read") }
            return (0..<count).map { i in
                let slice = bytes[(i * size)..<((i + 1) * size)]
                return String(decoding: slice.prefix { $0 != 0 }, as: UTF8.self)
            }
        case H5T_FLOAT where count == 0, H5T_INTEGER where count == 0:
            // Keras writes `np.array([])` (float64, no elements) for a layer without weights.
            return []
        default:
            throw ModelError("\(place) is not a string attribute")
        }
    }

    /// A numeric dataset at the relative path `name`, converted to float32, with its dims.
    func floats(dataset name: String) throws -> (dims: [Int], values: [Float]) {
        let place = "\(file): dataset '\(child(name))'"
        guard has(name) else { throw ModelError("\(place) is missing") }
        let dataset = H5Dopen2(id, name, mt_h5p_default())
        guard dataset >= 0 else { throw ModelError("\(place) cannot be opened") }
        defer { H5Dclose(dataset) }
        let type = H5Dget_type(dataset), space = H5Dget_space(dataset)
        defer {
            if type >= 0 { H5Tclose(type) }
            if space >= 0 { H5Sclose(space) }
        }
        guard type >= 0, space >= 0 else { throw ModelError("\(place) has an unreadable type or shape") }
        let typeClass = H5Tget_class(type)
        guard typeClass == H5T_FLOAT || typeClass == H5T_INTEGER else { throw ModelError("\(place) is not numeric") }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard rank >= 0, rank <= 8 else { throw ModelError("\(place) has an unreadable shape") }
        var raw = [hsize_t](repeating: 0, count: rank)
        guard H5Sget_simple_extent_dims(space, &raw, nil) == rank else { throw ModelError("\(place) has an unreadable shape") }
        var count = 1
        for d in raw {
            let (p, overflow) = count.multipliedReportingOverflow(by: Int(clamping: d))
            guard !overflow, p <= 1 << 31 else { throw ModelError("\(place) has absurd dimensions \(raw)") }
            count = p
        }
        // Stored data can be deflated, whose best ratio is about 1032 : 1; more than that (plus a
        // margin for tiny files) is a header lying about its shape.
        guard count <= 1100 * (fileBytes / 4 + 1024) else {
            throw ModelError("\(place) declares \(raw) elements, more than its \(fileBytes)-byte file can hold")
        }
        var values = [Float](repeating: 0, count: count)
        if count > 0 {
            let status = values.withUnsafeMutableBytes {
                H5Dread(dataset, mt_h5t_native_float(), mt_h5s_all(), mt_h5s_all(), mt_h5p_default(), $0.baseAddress)
            }
            guard status >= 0 else { throw ModelError("\(place) cannot be read (truncated file?)") }
        }
        return (raw.map { Int($0) }, values)
    }
}
