/** The model zoo: Keras Applications architectures as TF.js layers models, with Keras layer names. */
export type { ArchitectureSpec, PreprocessMode, PretrainedConfig, ZooOptions } from './types.js';
export { registerModel, listModels, getModelSpec, buildModel, createModel, type CreatedModel } from './registry.js';
export { VGG16, VGG19, vgg16Spec, vgg19Spec } from './vgg.js';
export { ResNet50, ResNet101, ResNet152, resnet50Spec, resnet101Spec, resnet152Spec } from './resnet.js';
export { InceptionV3, inceptionV3Spec } from './inception-v3.js';
export { MobileNetV2, mobilenetV2Spec } from './mobilenet-v2.js';
export { EfficientNetB0, efficientnetB0Spec } from './efficientnet.js';
export { Normalization, ChannelScale } from './layers.js';
export { imagenet as imagenetConfig, nsfwjs as nsfwjsConfig, NSFW_CLASSES } from './pretrained.js';
export { preprocess } from './preprocess.js';
export { decodePredictions, type Prediction } from './decode.js';
export { IMAGENET_CLASSES } from './imagenet-classes.js';
