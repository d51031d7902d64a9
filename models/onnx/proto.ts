// The ONNX protobuf schema as generated static code (onnx-proto). Everything in
// models/ reads and writes ONNX through this one import.

import type { onnx as OnnxTypes } from 'onnx-proto';
import onnxProto from 'onnx-proto';

// onnx-proto is CommonJS whose named export Node cannot detect, so the value
// comes from the default import; the merged type-only namespace below lets
// `onnx.IModelProto` etc. be used as types too (the value alone is not a namespace).
export const onnx: typeof OnnxTypes = onnxProto.onnx;
export declare namespace onnx {
  export type IAttributeProto = OnnxTypes.IAttributeProto;
  export type AttributeProto = OnnxTypes.AttributeProto;
  export type IValueInfoProto = OnnxTypes.IValueInfoProto;
  export type ValueInfoProto = OnnxTypes.ValueInfoProto;
  export type INodeProto = OnnxTypes.INodeProto;
  export type NodeProto = OnnxTypes.NodeProto;
  export type IModelProto = OnnxTypes.IModelProto;
  export type ModelProto = OnnxTypes.ModelProto;
  export type IGraphProto = OnnxTypes.IGraphProto;
  export type GraphProto = OnnxTypes.GraphProto;
  export type ITensorProto = OnnxTypes.ITensorProto;
  export type TensorProto = OnnxTypes.TensorProto;
  export type ITypeProto = OnnxTypes.ITypeProto;
  export type TypeProto = OnnxTypes.TypeProto;
  export type ITensorShapeProto = OnnxTypes.ITensorShapeProto;
  export type TensorShapeProto = OnnxTypes.TensorShapeProto;
  export type IOperatorSetIdProto = OnnxTypes.IOperatorSetIdProto;
  export type OperatorSetIdProto = OnnxTypes.OperatorSetIdProto;
  export type IFunctionProto = OnnxTypes.IFunctionProto;
  export type FunctionProto = OnnxTypes.FunctionProto;
  export type ISparseTensorProto = OnnxTypes.ISparseTensorProto;
  export type SparseTensorProto = OnnxTypes.SparseTensorProto;
  export type IStringStringEntryProto = OnnxTypes.IStringStringEntryProto;
  export type StringStringEntryProto = OnnxTypes.StringStringEntryProto;
  export type ITrainingInfoProto = OnnxTypes.ITrainingInfoProto;
  export type TrainingInfoProto = OnnxTypes.TrainingInfoProto;
}
export type ModelProto = onnxProto.onnx.ModelProto;
export type GraphProto = onnxProto.onnx.IGraphProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;
export const DataType = onnxProto.onnx.TensorProto.DataType;
export type DataType = onnxProto.onnx.TensorProto.DataType;
export const AttributeType = onnxProto.onnx.AttributeProto.AttributeType;
