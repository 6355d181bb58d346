/**
 * Trained models as files: the Model (a network with its preprocessing, class names, loss and
 * provenance), the model file format, loading, evaluation metrics and ONNX export.
 *
 * @packageDocumentation
 */
export { Model, type InferenceOptions, type JsonValue, type ModelInput, type ModelOptions, type Prediction, type Provenance } from './model';
export { loadModel, modelFromBytes, type LoadModelOptions } from './file';
export { decodeModel, encodeModel, MODEL_FORMAT_VERSION, MODEL_MAGIC, type ModelFileContents } from './format';
export { applyPreprocessing, checkPreprocessing, describePreprocessing, PREPROCESSING_KINDS, type Preprocessing } from './preprocessing';
export { EvaluationAccumulator, softmaxRow, topClasses, type ClassScore, type Evaluation } from './metrics';
export { ONNX_EXPORTABLE_KINDS, ONNX_IR_VERSION, ONNX_OPSET, onnxBytes, type ExportOnnxOptions } from './onnx/export';
