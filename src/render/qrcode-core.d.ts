/**
 * The QR encoder of the qrcode package alone (`qrcode/lib/core/qrcode.js`): the package's main entry also
 * loads its PNG (pngjs), SVG, UTF-8 and terminal renderers, which the renderer never uses, in every render
 * worker isolate (docs/performance.md). `create` is the same function the main entry re-exports, typed as
 * @types/qrcode types it there.
 */
declare module 'qrcode/lib/core/qrcode.js' {
  export { create } from 'qrcode';
}
