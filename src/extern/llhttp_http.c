/*
 * Compiles http.c of the system's llhttp sources (Debian: node-llhttp,
 * /usr/share/llhttp). No llhttp code lives in this repository; configure
 * points the include path at the directory named by --with-llhttp-src.
 */
#include "http.c"
