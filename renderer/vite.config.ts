import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const here = path.dirname(fileURLToPath(import.meta.url));

// The renderer is built once into dist/renderer; the backend serves it at / and Electron loads it
// from the backend URL, so both see the same origin and the same CSP.
export default defineConfig({
  root: here,
  base: '/',
  plugins: [react()],
  build: { outDir: path.join(here, '..', 'dist', 'renderer'), emptyOutDir: true, sourcemap: true },
});
