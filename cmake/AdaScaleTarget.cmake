# Shared settings for every project target: warnings as errors, sanitizers,
# and one precompiled LibTorch header reused by all targets (a LibTorch
# translation unit costs ~18 s on 2 cores without it).

set(ADASCALE_WARNINGS -Wall -Wextra -Werror)
# GCC's -Wmaybe-uninitialized reports false positives inside LibTorch's
# c10::optional once ASan instruments it (GCC's manual warns that the
# sanitizers change this analysis), so it is off in sanitizer builds only.
set(ADASCALE_SANITIZE_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined -Wno-maybe-uninitialized)
# ADASCALE_FUZZ: every library is built with libFuzzer's coverage hooks;
# the fuzz executables add -fsanitize=fuzzer at link time (fuzz/). -O1, as
# libFuzzer's docs suggest: instrumented LibTorch code at -O3 compiles about
# twice as slowly for little gain in executions per second.
set(ADASCALE_FUZZ_FLAGS -fsanitize=fuzzer-no-link,address,undefined
    -fno-omit-frame-pointer -fno-sanitize-recover=undefined -gline-tables-only
    -O1)

add_library(adascale_pch OBJECT ${PROJECT_SOURCE_DIR}/cmake/pch.cpp)
# Linking the same libraries as the consumers keeps compile definitions equal,
# which GCC requires before it will use a precompiled header.
target_link_libraries(adascale_pch PUBLIC ${TORCH_LIBRARIES} spdlog::spdlog
                      fmt::fmt yaml-cpp TBB::tbb ${OpenCV_LIBS})
target_compile_options(adascale_pch PRIVATE ${ADASCALE_WARNINGS})
target_precompile_headers(adascale_pch PRIVATE ${PROJECT_SOURCE_DIR}/cmake/pch.h)
if(ADASCALE_SANITIZE)
  target_compile_options(adascale_pch PRIVATE ${ADASCALE_SANITIZE_FLAGS})
endif()
if(ADASCALE_FUZZ)
  target_compile_options(adascale_pch PRIVATE ${ADASCALE_FUZZ_FLAGS})
endif()

# adascale_configure(target): apply warnings, sanitizers and the shared PCH.
function(adascale_configure target)
  target_compile_options(${target} PRIVATE ${ADASCALE_WARNINGS})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  target_precompile_headers(${target} REUSE_FROM adascale_pch)
  if(ADASCALE_SANITIZE)
    target_compile_options(${target} PRIVATE ${ADASCALE_SANITIZE_FLAGS})
    target_link_options(${target} PRIVATE ${ADASCALE_SANITIZE_FLAGS})
  endif()
  if(ADASCALE_FUZZ)
    target_compile_options(${target} PRIVATE ${ADASCALE_FUZZ_FLAGS})
  endif()
endfunction()

# adascale_library(name SOURCES ... DEPS ...): one library per module.
function(adascale_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  adascale_configure(${name})
endfunction()
