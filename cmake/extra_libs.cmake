# extra_libs.cmake - optional libraries for symbolized goroutine dumps.
#
# Included by the top-level CMakeLists.txt after the goro_objs target
# exists.  Dumps (src/backtrace.c) resolve function names and file:line
# with libbacktrace, which GCC ships as a static archive next to its own
# headers (Debian: part of libgcc-<ver>-dev, always installed with gcc), so
# no extra package is needed.  Without it (e.g. clang without GCC's
# include dir) the build still works: dumps fall back to dladdr(), which
# only sees exported symbols, so executables linked against goro_static
# then get -rdynamic.  Frame walking needs frame pointers in user code as
# well (-fno-omit-frame-pointer), which the tests already use.

include(CheckIncludeFile)
include(CMakePushCheckState)

set(GORO_LIBBACKTRACE "" CACHE FILEPATH "Path to libbacktrace.a (empty: ask the compiler)")
option(GORO_USE_LIBBACKTRACE "Use libbacktrace for file:line in goroutine dumps" ON)

if(GORO_USE_LIBBACKTRACE AND NOT GORO_LIBBACKTRACE)
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libbacktrace.a
    OUTPUT_VARIABLE _goro_bt OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(_goro_bt AND IS_ABSOLUTE "${_goro_bt}" AND EXISTS "${_goro_bt}")
    set(GORO_LIBBACKTRACE "${_goro_bt}" CACHE FILEPATH "Path to libbacktrace.a" FORCE)
  endif()
endif()

set(_goro_have_bt OFF)
if(GORO_USE_LIBBACKTRACE AND GORO_LIBBACKTRACE AND EXISTS "${GORO_LIBBACKTRACE}")
  cmake_push_check_state(RESET)
  check_include_file(backtrace.h GORO_HAVE_BACKTRACE_H)
  cmake_pop_check_state()
  if(GORO_HAVE_BACKTRACE_H)
    set(_goro_have_bt ON)
  endif()
endif()

if(_goro_have_bt)
  message(STATUS "goro: goroutine dumps symbolized with ${GORO_LIBBACKTRACE}")
  target_compile_definitions(goro_objs PRIVATE GORO_HAVE_LIBBACKTRACE=1)
  list(APPEND GORO_EXTRA_LIBS "${GORO_LIBBACKTRACE}")
  # Keep libbacktrace's symbols out of libgoro.so's dynamic symbol table.
  target_link_options(goro_shared PRIVATE "LINKER:--exclude-libs,libbacktrace.a")
else()
  message(STATUS "goro: libbacktrace not found; dumps use dladdr (no file:line)")
  # dladdr() sees an executable's functions only if they are exported.
  target_link_options(goro_static INTERFACE "$<BUILD_INTERFACE:-rdynamic>")
endif()
