import path from 'node:path';
import { packageRoot } from '../package-info.js';

/** bin/cesar.js of this installation: what `cesar start` runs for each part. */
export const cesarBin = path.join(packageRoot, 'bin', 'cesar.js');
