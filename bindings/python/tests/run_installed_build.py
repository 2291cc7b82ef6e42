"""Proves the packaging path: install libprov (runtime + development) into a
temporary prefix, build the package with setup.py against it through
pkg-config only (no build-tree paths), then run the API tests on the result
and check that the extension loaded the installed libprov.so.1.

Usage: run_installed_build.py CMAKE_COMMAND BUILD_DIR"""

import glob
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_SOURCE = os.path.dirname(HERE)


def run(command, **kwargs):
    print("+ " + " ".join(command), flush=True)
    subprocess.run(command, check=True, **kwargs)


def main(cmake, build_dir):
    work = tempfile.mkdtemp(prefix="prov-py-installed-")
    try:
        prefix = os.path.join(work, "prefix")
        # Only the library's own install rules (src/): libprov.so.1, prov.h,
        # prov.pc; the programs are not needed here.
        for component in ("runtime", "development"):
            run([cmake, "--install", os.path.join(build_dir, "src"), "--prefix", prefix,
                 "--component", component])
        pkgconfig_dirs = glob.glob(os.path.join(prefix, "lib*", "pkgconfig")) + \
            glob.glob(os.path.join(prefix, "lib", "*", "pkgconfig"))
        assert pkgconfig_dirs, "no pkgconfig directory installed under " + prefix
        environment = dict(os.environ, PKG_CONFIG_PATH=os.pathsep.join(pkgconfig_dirs))
        environment.pop("PYTHONPATH", None)
        # Build from a copy (python/ and swig/ side by side, as in the
        # checkout) so that nothing is written into the source tree.
        source_copy = os.path.join(work, "src", "python")
        shutil.copytree(PACKAGE_SOURCE, source_copy,
                        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        shutil.copytree(os.path.join(os.path.dirname(PACKAGE_SOURCE), "swig"),
                        os.path.join(work, "src", "swig"))
        build_base = os.path.join(work, "build")
        run([sys.executable, "setup.py", "-q", "build", "--build-base", build_base],
            cwd=source_copy, env=environment)
        built = glob.glob(os.path.join(build_base, "lib*"))
        assert len(built) == 1, built
        environment["PYTHONPATH"] = built[0]
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        probe = ("import libprov, libprov.native as n; "
                 "maps = open('/proc/self/maps').read(); "
                 "print(n.__file__); "
                 "print([l.split()[-1] for l in maps.splitlines() if 'libprov.so' in l][0])")
        output = subprocess.run([sys.executable, "-c", probe], env=environment, check=True,
                                capture_output=True, text=True, cwd=work).stdout.split()
        print(output)
        assert output[0].startswith(built[0]), output
        assert os.path.realpath(output[1]).startswith(os.path.realpath(prefix)), output
        run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             os.path.join(HERE, "test_api.py")], env=environment, cwd=work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("installed build OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
