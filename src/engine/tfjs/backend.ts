import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
let ready: Promise<string> | undefined;
let requested: TfBackendName | undefined;

export type TfBackendName = 'wasm' | 'cpu';

/**
 * The one function that picks TF.js' backend. Graft prefers wasm (SIMD, ~20x the pure-JS cpu
 * backend) and falls back to cpu where wasm cannot start. Idempotent.
 *
 * @example
 * await initTf();            // 'wasm'
 * await initTf('cpu');       // force the reference backend (tests compare against it)
 */
export function initTf(prefer: TfBackendName = (process.env.GRAFT_TF_BACKEND as TfBackendName) || 'wasm'): Promise<string> {
  // Compare with what was asked, not tf.getBackend(): asking TF.js for its backend while the
  // async wasm backend is still starting throws ("…has not yet been initialized").
  if (ready && requested === prefer) return ready;
  requested = prefer;
  ready = (async () => {
    if (prefer === 'wasm') {
      const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
      setWasmPaths(path.join(dir, 'dist') + path.sep);
      try {
        // Graft's extra gradient kernels are registered by engine/wasm-grads.ts when imported.
        if (await tf.setBackend('wasm')) {
          await tf.ready();
          return 'wasm';
        }
      } catch {
        /* fall through to cpu */
      }
    }
    await tf.setBackend('cpu');
    await tf.ready();
    return 'cpu';
  })();
  return ready;
}

export { tf };

/**
 * The backend already chosen, or the default one: for library entry points (createModel) that
 * need TF.js ready but must not switch a backend the caller picked.
 */
export function ensureTf(): Promise<string> {
  return ready ?? initTf();
}
