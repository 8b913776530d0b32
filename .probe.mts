let t = Date.now();
const tf = await import('@tensorflow/tfjs'); console.log('tf', Date.now() - t); t = Date.now();
const h = await import('h5wasm/node'); console.log('import', Date.now() - t); t = Date.now();
