// Where the installed package's files are, wherever npm put it (compiled to dist/server/paths.js).
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const WWW_DIR = join(PACKAGE_ROOT, 'www');
export const WWW_JS_DIR = join(PACKAGE_ROOT, 'dist', 'www');
