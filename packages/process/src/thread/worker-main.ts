// The worker entry: a worker thread of the pool runs this file, which hosts thread-isolated
// processes. It is built as its own tsup entry (dist/thread/worker-main.js and .cjs) so the
// published package ships it next to the main entry.
import { parentPort, workerData } from 'node:worker_threads';
import { startThreadHost } from './thread-host';
import type { HostContext } from './thread-host';

if (parentPort === null) throw new Error('@foundation/process: worker-main must run in a worker thread');
startThreadHost(parentPort, workerData as HostContext);
