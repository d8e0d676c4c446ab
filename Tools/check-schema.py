#!/usr/bin/env python3
"""Compares Schemas/onnx.proto with the onnx Python package's own descriptors.

Every message, field (name, number, type, label, packing, oneof) and enum value must agree, so a
typo in a field number cannot hide. Run through Tools/crosscheck.sh, which provides the virtualenv.
"""
import subprocess
import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2
import onnx.onnx_pb as reference

ROOT = Path(__file__).resolve().parent.parent


def ours():
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.pb"
        subprocess.run(["protoc-c", f"--proto_path={ROOT / 'Schemas'}", f"--descriptor_set_out={out}",
                        str(ROOT / "Schemas" / "onnx.proto")], check=True)
        fds = descriptor_pb2.FileDescriptorSet()
        fds.ParseFromString(out.read_bytes())
        return fds.file[0]


def facts_from_proto(fdp):
    facts = set()

    def enum(prefix, e):
        for v in e.value:
            facts.add(("enum", f"{prefix}{e.name}", v.name, v.number))

    def message(prefix, m):
        name = f"{prefix}{m.name}"
        for e in m.enum_type:
            enum(name + ".", e)
        for n in m.nested_type:
            message(name + ".", n)
        for f in m.field:
            oneof = m.oneof_decl[f.oneof_index].name if f.HasField("oneof_index") else ""
            typ = f.type_name.split(".")[-1] if f.type_name else f.type
            repeated = f.label == descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
            facts.add(("field", name, f.name, f.number, str(typ), repeated, f.options.packed, oneof))

    for e in fdp.enum_type:
        enum("", e)
    for m in fdp.message_type:
        message("", m)
    return facts


def facts_from_descriptor(fd):
    facts = set()

    def enum(prefix, e):
        for v in e.values:
            facts.add(("enum", f"{prefix}{e.name}", v.name, v.number))

    def message(prefix, m):
        name = f"{prefix}{m.name}"
        for e in m.enum_types:
            enum(name + ".", e)
        for n in m.nested_types:
            message(name + ".", n)
        for f in m.fields:
            typ = (f.message_type or f.enum_type).name if (f.message_type or f.enum_type) else f.type
            oneof = f.containing_oneof.name if f.containing_oneof else ""
            facts.add(("field", name, f.name, f.number, str(typ), f.is_repeated, f.is_packed, oneof))

    for e in fd.enum_types_by_name.values():
        enum("", e)
    for m in fd.message_types_by_name.values():
        message("", m)
    return facts


def main():
    mine = facts_from_proto(ours())
    theirs = facts_from_descriptor(reference.DESCRIPTOR)
    missing = sorted(theirs - mine, key=str)
    extra = sorted(mine - theirs, key=str)
    for f in missing:
        print("missing from Schemas/onnx.proto:", f)
    for f in extra:
        print("not in the onnx package:", f)
    if missing or extra:
        sys.exit(1)
    print(f"check-schema: Schemas/onnx.proto agrees with onnx {__import__('onnx').__version__} "
          f"({len(mine)} fields and enum values)")


if __name__ == "__main__":
    main()
