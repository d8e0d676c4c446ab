import CHDF5
import FileIO
import Foundation
import ModelIR

/// Writing HDF5 groups. Strings are written the way h5py writes Python `str`
/// (variable-length UTF-8), weights as little-endian float32 datasets. Every libhdf5 failure becomes
/// a one-line `ModelError` naming the file and the object.
extension H5Group {
    /// Writes a new HDF5 file at `target` atomically: `body` fills a file created at a temporary path
    /// in the same folder, which is closed and only then renamed over `target`.
    static func create(_ target: String, _ body: (H5Group) throws -> Void) throws {
        if let error = mt_h5_load_error() { throw ModelError("\(target): \(String(cString: error))") }
        try AtomicFile.replace(target) { temp in
            let id = H5Fcreate(temp, mt_h5f_acc_excl(), mt_h5p_default(), mt_h5p_default())
            guard id >= 0 else { throw ModelError("\(target): cannot create an HDF5 file beside it") }
            let root = H5Group(id: id, file: target, path: "/", isFile: true, parent: nil)
            try body(root)
            guard H5Fflush(id, H5F_SCOPE_GLOBAL) >= 0 else { throw ModelError("\(target): writing failed (disk full?)") }
        }  // the root is released (H5Fclose) when the closure returns, before the rename
    }

    /// A new subgroup; `name` may contain "/" (intermediate groups are created).
    func makeGroup(_ name: String) throws -> H5Group {
        let plist = H5Pcreate(mt_h5p_link_create())
        defer { H5Pclose(plist) }
        H5Pset_create_intermediate_group(plist, 1)
        let g = H5Gcreate2(id, name, plist, mt_h5p_default(), mt_h5p_default())
        guard g >= 0 else { throw ModelError("\(file): cannot create group '\(child(name))'") }
        return H5Group(id: g, file: file, path: child(name), isFile: false, parent: self)
    }

    /// A scalar variable-length UTF-8 string attribute (h5py's form for a Python `str`).
    func setAttribute(_ name: String, string: String) throws {
        try writeStrings(name, [string], scalar: true)
    }

    /// A one-dimensional variable-length UTF-8 string array; an empty list is written as Keras
    /// writes it, an empty float64 array.
    func setAttribute(_ name: String, strings: [String]) throws {
        if strings.isEmpty {
            var dims: [hsize_t] = [0]
            let space = H5Screate_simple(1, &dims, nil)
            defer { H5Sclose(space) }
            let attr = H5Acreate2(id, name, mt_h5t_ieee_f64le(), space, mt_h5p_default(), mt_h5p_default())
            guard attr >= 0 else { throw ModelError("\(file): cannot create attribute '\(name)' of '\(path)'") }
            H5Aclose(attr)
            return
        }
        try writeStrings(name, strings, scalar: false)
    }

    private func writeStrings(_ name: String, _ strings: [String], scalar: Bool) throws {
        let type = H5Tcopy(mt_h5t_c_s1())
        defer { H5Tclose(type) }
        H5Tset_size(type, mt_h5t_variable())
        H5Tset_cset(type, H5T_CSET_UTF8)
        var dims: [hsize_t] = [hsize_t(strings.count)]
        let space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dims, nil)
        defer { H5Sclose(space) }
        let attr = H5Acreate2(id, name, type, space, mt_h5p_default(), mt_h5p_default())
        guard attr >= 0 else { throw ModelError("\(file): cannot create attribute '\(name)' of '\(path)'") }
        defer { H5Aclose(attr) }
        let cStrings = strings.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        var pointers: [UnsafePointer<CChar>?] = cStrings.map { UnsafePointer($0) }
        guard H5Awrite(attr, type, &pointers) >= 0 else {
            throw ModelError("\(file): cannot write attribute '\(name)' of '\(path)'")
        }
    }

    /// A float32 dataset at the relative path `name` (intermediate groups are created).
    func writeFloats(_ name: String, dims: [Int], values: [Float]) throws {
        guard dims.reduce(1, *) == values.count else {
            throw ModelError("\(file): dataset '\(child(name))' has \(values.count) values for shape \(dims)")
        }
        var shape = dims.map { hsize_t($0) }
        let space = dims.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dims.count), &shape, nil)
        defer { H5Sclose(space) }
        let plist = H5Pcreate(mt_h5p_link_create())
        defer { H5Pclose(plist) }
        H5Pset_create_intermediate_group(plist, 1)
        let dataset = H5Dcreate2(id, name, mt_h5t_ieee_f32le(), space, plist, mt_h5p_default(), mt_h5p_default())
        guard dataset >= 0 else { throw ModelError("\(file): cannot create dataset '\(child(name))'") }
        defer { H5Dclose(dataset) }
        if values.isEmpty { return }
        let status = values.withUnsafeBytes {
            H5Dwrite(dataset, mt_h5t_native_float(), mt_h5s_all(), mt_h5s_all(), mt_h5p_default(), $0.baseAddress)
        }
        guard status >= 0 else { throw ModelError("\(file): cannot write dataset '\(child(name))' (disk full?)") }
    }
}
