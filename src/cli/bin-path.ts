import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** bin/cesar.js of this installation: what `cesar start` runs for each part. */
export const cesarBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'cesar.js');
