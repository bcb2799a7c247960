# Finds Debian's static, position-independent OpenBLAS (pthread variant) and its cblas.h.
# Sets OPENBLAS_STATIC_LIB and OPENBLAS_INCLUDE_DIR, or stops with a message saying what to install.
set(_openblas_hint_dirs
  /usr/lib/x86_64-linux-gnu/openblas-pthread
  /usr/lib/aarch64-linux-gnu/openblas-pthread
  /usr/lib/x86_64-linux-gnu
  /usr/lib64 /usr/lib /usr/local/lib)
find_library(OPENBLAS_STATIC_LIB NAMES libopenblas.a PATHS ${_openblas_hint_dirs} ENV OPENBLAS_LIB_DIR NO_DEFAULT_PATH)
find_path(OPENBLAS_INCLUDE_DIR NAMES cblas.h PATHS
  /usr/include/x86_64-linux-gnu/openblas-pthread
  /usr/include/aarch64-linux-gnu/openblas-pthread
  /usr/include/openblas /usr/local/include /usr/include
  ENV OPENBLAS_INCLUDE_DIR NO_DEFAULT_PATH)
if(NOT OPENBLAS_STATIC_LIB OR NOT OPENBLAS_INCLUDE_DIR)
  message(FATAL_ERROR
    "betanmf: OpenBLAS (static library and cblas.h) not found.\n"
    "Install it with:  sudo apt-get install libopenblas-dev\n"
    "or point OPENBLAS_LIB_DIR / OPENBLAS_INCLUDE_DIR at a libopenblas.a and its headers.")
endif()
message(STATUS "betanmf: OpenBLAS ${OPENBLAS_STATIC_LIB} (headers in ${OPENBLAS_INCLUDE_DIR})")
