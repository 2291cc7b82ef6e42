/*
 * prov_python.i — the Python module libprov.native (libprov/native.py +
 * libprov/_native*.so). Everything else comes from prov.i; the idiomatic,
 * Python-SDK-compatible layer is the pure-Python package around it
 * (bindings/python/libprov/).
 */
%module(package="libprov") native

%include "prov.i"
