/**
 * `newton-cnn info`: the version, the devices (usable or not, and why), the BLAS, LAPACK, the GEMM and
 * the convolutions in use (oneDNN's version and file, or why it is absent), the CPU kernels' vector
 * code, the CPU threads and the native addon's path.
 *
 * @packageDocumentation
 */
import { devices, info } from '../../runtime';
import { EXIT, type CliIo } from '../io';

/** The text `newton-cnn info` prints. */
export function infoText(): string {
  const rt = info();
  const devs = devices();
  const width = Math.max(...devs.map((d) => d.name.length));
  const lines = [
    `newton-cnn ${rt.version}`,
    `node: ${process.version} (${process.platform}-${process.arch})`,
    `addon: ${rt.addon}`,
    `BLAS: ${rt.blas}`,
    `LAPACK: ${rt.lapack ? 'yes (symmetricEigen)' : 'no (symmetricEigen unavailable: install libopenblas-dev and rebuild)'}`,
    `gemm: ${rt.gemm}`,
    `conv: ${rt.conv} (${rt.onednn.available ? `oneDNN ${rt.onednn.version}, ${rt.onednn.library}` : `oneDNN unavailable: ${rt.onednn.reason}`})`,
    `vector code: ${rt.cpuIsa.active} (this processor runs ${rt.cpuIsa.supported.join(', ')})`,
    `threads: ${rt.threads}`,
    'devices:',
    ...devs.map((d) => `  ${d.name.padEnd(width)}  ${d.available ? 'available  ' : 'unavailable'}  ${d.available ? d.description : d.reason}`.trimEnd()),
  ];
  return lines.join('\n');
}

/** Prints the runtime information (as JSON with `json`); returns the exit code. */
export function runInfo(io: CliIo, json = false): number {
  if (json) {
    io.stdout.write(`${JSON.stringify({ ...info(), node: process.version, devices: devices() })}\n`);
  } else {
    io.stdout.write(`${infoText()}\n`);
  }
  return EXIT.ok;
}
