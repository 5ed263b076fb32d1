// Compile Python sources to CPython 3.13 bytecode with Pyodide (CPython 3.13 built for WebAssembly),
// for machines that have no native python3.13. Bytecode does not depend on the platform, only on the
// interpreter's version, so these .pyc files are the ones Lambda's python3.13 runtime would write.
//   node infra/compile_bytecode.mjs <directory>
// Prints the interpreter version and its magic number (hex) on success.
import { loadPyodide } from "pyodide";

const [directory] = process.argv.slice(2);
const pyodide = await loadPyodide();
pyodide.FS.mkdirTree("/target");
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: directory }, "/target");
const result = pyodide.runPython(`
import compileall, importlib.util, platform, py_compile
ok = compileall.compile_dir("/target", quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
f"{platform.python_version()} {importlib.util.MAGIC_NUMBER.hex()} {ok}"
`);
const [version, magic, ok] = result.split(" ");
if (ok !== "True") {
  console.error(`compileall failed under Python ${version}`);
  process.exit(1);
}
console.log(`${version} ${magic}`);
