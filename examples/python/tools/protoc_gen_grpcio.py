#!/usr/bin/env python3
"""A protoc plugin that lets buf drive grpcio-tools' bundled code generators.

grpcio-tools ships protoc and gRPC's Python generator inside a Python extension
(`python -m grpc_tools.protoc`); there is no protoc-gen-* executable that buf could run
as a local plugin, and buf's `protoc_builtin` only proxies protoc's own generators
(python, pyi), not grpc_python. This shim closes the gap:

  1. read the CodeGeneratorRequest that buf writes to stdin (it carries every file to
     generate plus all of their imports, already compiled to descriptors);
  2. hand those descriptors to grpc_tools.protoc with --descriptor_set_in and ask for one
     generator's output in a temporary directory;
  3. send the generated files back to buf as a CodeGeneratorResponse.

The plugin parameter (buf.gen.yaml `opt`) names the generator: `python`, `pyi` or
`grpc_python`; anything after the first comma is passed to that generator as its options.

Used by examples/python/buf.gen.yaml as:  local: [python3, examples/python/tools/protoc_gen_grpcio.py]
"""

import os
import sys
import tempfile

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2

GENERATORS = ("python", "pyi", "grpc_python")


def default_json_name(name: str) -> str:
    """protoc's ToJsonName: drop underscores, upper-case the letter after each one."""
    out, upper = [], False
    for c in name:
        if c == "_":
            upper = True
        elif upper:
            out.append(c.upper())
            upper = False
        else:
            out.append(c)
    return "".join(out)


def strip_default_json_names(messages) -> None:
    """buf fills in every field's json_name; protoc records only explicit ones. Clearing
    the defaults makes the descriptors embedded in *_pb2.py byte-identical to what
    `python -m grpc_tools.protoc` writes from the .proto sources."""
    for message in messages:
        for field in list(message.field) + list(message.extension):
            if field.HasField("json_name") and field.json_name == default_json_name(field.name):
                field.ClearField("json_name")
        strip_default_json_names(message.nested_type)


def fail(response: plugin_pb2.CodeGeneratorResponse, message: str) -> None:
    response.error = message
    sys.stdout.buffer.write(response.SerializeToString())


def main() -> None:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    response = plugin_pb2.CodeGeneratorResponse()
    # grpcio-tools' protoc understands proto3 optional fields.
    response.supported_features = plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL

    generator, _, options = request.parameter.partition(",")
    generator = generator.strip()
    if generator not in GENERATORS:
        fail(response, f"protoc_gen_grpcio: opt must start with one of {', '.join(GENERATORS)}; got {request.parameter!r}")
        return
    try:
        from grpc_tools import protoc  # imported late so a missing package is reported through buf
    except ImportError:
        fail(response, "protoc_gen_grpcio: grpcio-tools is not installed; run scripts/install-client-toolchains.sh")
        return

    with tempfile.TemporaryDirectory(prefix="protoc-gen-grpcio-") as tmp:
        descriptors = os.path.join(tmp, "descriptors.binpb")
        out_dir = os.path.join(tmp, "out")
        os.mkdir(out_dir)
        file_set = descriptor_pb2.FileDescriptorSet(file=request.proto_file)
        for file in file_set.file:
            strip_default_json_names(file.message_type)
            for field in file.extension:
                if field.HasField("json_name") and field.json_name == default_json_name(field.name):
                    field.ClearField("json_name")
        with open(descriptors, "wb") as f:
            f.write(file_set.SerializeToString())
        out_flag = f"--{generator}_out={options + ':' if options else ''}{out_dir}"
        args = ["grpc_tools.protoc", f"--descriptor_set_in={descriptors}", out_flag, *request.file_to_generate]
        code = protoc.main(args)
        if code != 0:
            fail(response, f"protoc_gen_grpcio: grpc_tools.protoc exited with {code} for {generator}")
            return
        for root, _dirs, files in os.walk(out_dir):
            for name in sorted(files):
                path = os.path.join(root, name)
                generated = response.file.add()
                generated.name = os.path.relpath(path, out_dir).replace(os.sep, "/")
                with open(path, encoding="utf-8") as f:
                    generated.content = f.read()
    sys.stdout.buffer.write(response.SerializeToString())


if __name__ == "__main__":
    main()
