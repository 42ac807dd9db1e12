import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const here = path.dirname(fileURLToPath(import.meta.url));

// `vite --config renderer/vite.config.ts` serves the UI with hot reload and forwards the API, the
// pairing link and Socket.IO to a running `orchestra serve` (ORCHESTRA_URL, default :8000), so the
// page stays same-origin with the backend exactly as in production.
const backend = process.env.ORCHESTRA_URL ?? 'http://127.0.0.1:8000';

// The renderer is built once into dist/renderer; the backend serves it at / and Electron loads it
// from the backend URL, so both see the same origin and the same CSP.
export default defineConfig({
  root: here,
  base: '/',
  plugins: [react()],
  build: { outDir: path.join(here, '..', 'dist', 'renderer'), emptyOutDir: true, sourcemap: true, target: 'es2022' },
  server: {
    host: '127.0.0.1',
    proxy: {
      '/api': { target: backend, changeOrigin: true },
      '/pair': { target: backend, changeOrigin: true },
      '/ws': { target: backend, changeOrigin: true, ws: true },
    },
  },
});
