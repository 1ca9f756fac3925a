import { create, toBinary, type DescFile, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import * as v1 from "../gen/grpc/reflection/v1/reflection_pb.ts";
import * as v1alpha from "../gen/grpc/reflection/v1alpha/reflection_pb.ts";
import { echo } from "../core/errors.ts";

/** Index of the served files: lookups by file name and by fully-qualified symbol. */
class DescriptorIndex {
  readonly serviceNames: string[];
  private readonly byName = new Map<string, DescFile>();
  private readonly bySymbol = new Map<string, DescFile>();

  constructor(services: readonly DescService[], extraFiles: readonly DescFile[]) {
    this.serviceNames = services.map((s) => s.typeName);
    for (const service of services) this.addFile(service.file);
    for (const file of extraFiles) this.addFile(file);
  }

  private addFile(file: DescFile): void {
    if (this.byName.has(file.name + ".proto")) return;
    this.byName.set(file.name + ".proto", file);
    for (const dep of file.dependencies) this.addFile(dep);
    const add = (name: string): void => void this.bySymbol.set(name, file);
    for (const service of file.services) {
      add(service.typeName);
      for (const method of service.methods) add(`${service.typeName}.${method.name}`);
    }
    for (const e of file.enums) add(e.typeName);
    const addMessage = (m: DescFile["messages"][number]): void => {
      add(m.typeName);
      for (const nested of m.nestedMessages) addMessage(nested);
      for (const e of m.nestedEnums) add(e.typeName);
    };
    for (const m of file.messages) addMessage(m);
  }

  /** The file with all of its transitive dependencies, serialized, the file itself first. */
  closure(file: DescFile): Uint8Array[] {
    const seen = new Set<string>();
    const out: Uint8Array[] = [];
    const visit = (f: DescFile): void => {
      if (seen.has(f.name)) return;
      seen.add(f.name);
      out.push(toBinary(FileDescriptorProtoSchema, f.proto));
      for (const dep of f.dependencies) visit(dep);
    };
    visit(file);
    return out;
  }

  fileByName(name: string): DescFile | undefined {
    return this.byName.get(name);
  }

  fileBySymbol(symbol: string): DescFile | undefined {
    return this.bySymbol.get(symbol.replace(/^\./, ""));
  }
}

type Answer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

const NOT_FOUND = 5;

function answer(index: DescriptorIndex, request: v1.ServerReflectionRequest["messageRequest"]): Answer {
  const notFound = (what: string): Answer => ({ case: "errorResponse", value: { errorCode: NOT_FOUND, errorMessage: `${what} not found` } });
  switch (request.case) {
    case "listServices":
      return { case: "listServicesResponse", value: { service: index.serviceNames.map((name) => ({ name })) } };
    case "fileByFilename": {
      const file = index.fileByName(request.value);
      return file ? { case: "fileDescriptorResponse", value: { fileDescriptorProto: index.closure(file) } } : notFound(`file ${echo(request.value)}`);
    }
    case "fileContainingSymbol": {
      const file = index.fileBySymbol(request.value);
      return file ? { case: "fileDescriptorResponse", value: { fileDescriptorProto: index.closure(file) } } : notFound(`symbol ${echo(request.value)}`);
    }
    case "allExtensionNumbersOfType":
      return { case: "allExtensionNumbersResponse", value: { baseTypeName: request.value, extensionNumber: [] } };
    case "fileContainingExtension":
      return notFound("extension");
    default:
      return { case: "errorResponse", value: { errorCode: 3, errorMessage: "empty reflection request" } };
  }
}

/**
 * gRPC server reflection (v1 and v1alpha), so grpcurl and friends need no proto files.
 * extraFiles adds types that appear only inside Any, such as error details.
 */
export function reflectionServices(services: readonly DescService[], extraFiles: readonly DescFile[] = []): {
  v1: ServiceImpl<typeof v1.ServerReflection>;
  v1alpha: ServiceImpl<typeof v1alpha.ServerReflection>;
} {
  const index = new DescriptorIndex(services, extraFiles);
  return {
    v1: {
      async *serverReflectionInfo(requests) {
        for await (const req of requests) {
          yield create(v1.ServerReflectionResponseSchema, {
            validHost: req.host,
            originalRequest: req,
            messageResponse: answer(index, req.messageRequest),
          });
        }
      },
    },
    v1alpha: {
      async *serverReflectionInfo(requests) {
        for await (const req of requests) {
          yield create(v1alpha.ServerReflectionResponseSchema, {
            validHost: req.host,
            originalRequest: req,
            messageResponse: answer(index, req.messageRequest as v1.ServerReflectionRequest["messageRequest"]),
          });
        }
      },
    },
  };
}
