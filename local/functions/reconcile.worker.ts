/** The reconciler on a worker thread of its own (reconcile-function.ts, reconcile.ts). */
import { startReconciler } from './reconcile-function';
import { runFunctionWorker } from './worker-runtime';

runFunctionWorker(startReconciler);
