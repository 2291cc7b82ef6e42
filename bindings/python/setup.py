"""Builds libprov's native extension against the INSTALLED libprov.

The C library is found with pkg-config (package `prov`; set PKG_CONFIG_PATH
for a non-system prefix, e.g. PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig). SWIG
(>= 4.0) generates the wrapper from ../swig/prov_python.i at build time; the
generated code is never committed. Build from a checkout:

    pip install ./bindings/python
"""

import shlex
import shutil
import subprocess
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
SWIG_DIR = HERE.parent / "swig"


def pkg_config(*arguments):
    try:
        output = subprocess.run(["pkg-config", *arguments, "prov"], check=True,
                                capture_output=True, text=True).stdout
    except FileNotFoundError:
        raise SystemExit("libprov: pkg-config is required to find the installed libprov")
    except subprocess.CalledProcessError as error:
        raise SystemExit("libprov: pkg-config cannot find 'prov' (is libprov installed? "
                         "set PKG_CONFIG_PATH=<prefix>/lib/pkgconfig): " + error.stderr.strip())
    return shlex.split(output)


class BuildSwigExtension(build_ext):
    """Runs SWIG into the build directory, then compiles and links the
    wrapper; the generated native.py is placed beside the extension."""

    def run(self):
        if not (SWIG_DIR / "prov_python.i").exists():
            raise SystemExit("libprov: %s not found; build from the libprov source tree" % SWIG_DIR)
        swig = shutil.which("swig4.0") or shutil.which("swig")
        if swig is None:
            raise SystemExit("libprov: SWIG (>= 4.0) is required to build the extension")
        generated = Path(self.build_temp).resolve() / "swig"
        generated.mkdir(parents=True, exist_ok=True)
        include_flags = [flag for flag in pkg_config("--cflags-only-I")]
        wrapper = generated / "prov_python_wrap.c"
        subprocess.run([swig, "-python", "-I" + str(SWIG_DIR), *include_flags,
                        "-outdir", str(generated), "-o", str(wrapper),
                        str(SWIG_DIR / "prov_python.i")], check=True)
        for extension in self.extensions:
            extension.sources = [str(wrapper)]
        super().run()
        package_dirs = [Path(self.build_lib) / "libprov"]
        if self.inplace:
            package_dirs = [HERE / "libprov"]
        for package_dir in package_dirs:
            package_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(generated / "native.py", package_dir / "native.py")


def native_extension():
    include_dirs = [flag[2:] for flag in pkg_config("--cflags-only-I")]
    library_dirs = [flag[2:] for flag in pkg_config("--libs-only-L")]
    libraries = [flag[2:] for flag in pkg_config("--libs-only-l")]
    # Find libprov at run time where pkg-config found it, unless that is a
    # default system directory (then the dynamic loader finds it anyway).
    runtime_dirs = [d for d in library_dirs
                    if d not in ("/usr/lib", "/lib", "/usr/lib64", "/usr/lib/x86_64-linux-gnu")]
    return Extension("libprov._native", sources=["prov_python_wrap.c"],
                     include_dirs=include_dirs, library_dirs=library_dirs,
                     libraries=libraries, runtime_library_dirs=runtime_dirs)


setup(ext_modules=[native_extension()], cmdclass={"build_ext": BuildSwigExtension})
