# Finds every dependency of cohort. Each missing mandatory one stops configuration with the
# Debian package that provides it.
find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(Boost 1.74 REQUIRED COMPONENTS program_options)
# nlohmann-json3-dev: checkpoint headers (src/train/CheckpointFile).
find_package(nlohmann_json 3 REQUIRED)
# libjs-chart.js: Chart.js, inlined into HTML reports when one is written (not needed to build).
find_file(COHORT_CHARTJS chart.min.js PATHS /usr/share/javascript/chart.js NO_DEFAULT_PATH)
if(NOT COHORT_CHARTJS)
  set(COHORT_CHARTJS /usr/share/javascript/chart.js/chart.min.js)
endif()

# OpenBLAS: prefer the OpenMP build, whose thread count is per calling thread (omp_set_num_threads),
# so each worker thread can have its own BLAS thread count.
find_library(COHORT_OPENBLAS_LIBRARY NAMES openblas
  PATHS /usr/lib/x86_64-linux-gnu/openblas-openmp /usr/lib/aarch64-linux-gnu/openblas-openmp
  NO_DEFAULT_PATH)
find_path(COHORT_OPENBLAS_INCLUDE cblas.h
  PATHS /usr/include/x86_64-linux-gnu/openblas-openmp /usr/include/aarch64-linux-gnu/openblas-openmp
  NO_DEFAULT_PATH)
if(NOT COHORT_OPENBLAS_LIBRARY OR NOT COHORT_OPENBLAS_INCLUDE)
  find_library(COHORT_OPENBLAS_LIBRARY NAMES openblas REQUIRED)
  find_path(COHORT_OPENBLAS_INCLUDE cblas.h PATH_SUFFIXES openblas REQUIRED)
endif()
add_library(cohort_openblas INTERFACE)
target_link_libraries(cohort_openblas INTERFACE ${COHORT_OPENBLAS_LIBRARY})
target_include_directories(cohort_openblas SYSTEM INTERFACE ${COHORT_OPENBLAS_INCLUDE})
message(STATUS "cohort: OpenBLAS ${COHORT_OPENBLAS_LIBRARY}")

# oneDNN (Debian's libdnnl-dev): the CPU backend's float convolutions. Optional: without it they
# take the own im2col path (kernels/cpu/CpuConvolution.cpp).
option(COHORT_ENABLE_DNNL "Use oneDNN for CPU convolutions when it is found" ON)
set(COHORT_HAVE_DNNL OFF)
if(COHORT_ENABLE_DNNL)
  find_library(COHORT_DNNL_LIBRARY NAMES dnnl)
  find_path(COHORT_DNNL_INCLUDE oneapi/dnnl/dnnl.hpp)
  if(COHORT_DNNL_LIBRARY AND COHORT_DNNL_INCLUDE)
    set(COHORT_HAVE_DNNL ON)
  endif()
endif()

set(COHORT_HAVE_CUDA OFF)
set(COHORT_HAVE_CUDNN OFF)
set(COHORT_HAVE_NCCL OFF)
if(COHORT_ENABLE_CUDA)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 20)
    if(NOT DEFINED CMAKE_CUDA20_STANDARD_COMPILE_OPTION)  # CMake < 3.26 lacks nvcc's C++20 flag
      set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
      set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    endif()
    set(CMAKE_CUDA_ARCHITECTURES ${COHORT_CUDA_ARCHITECTURES})
    find_package(CUDAToolkit REQUIRED)
    find_library(COHORT_CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR})
    find_path(COHORT_CUDNN_INCLUDE cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
    find_library(COHORT_NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR})
    find_path(COHORT_NCCL_INCLUDE nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
    set(COHORT_HAVE_CUDA ON)
    set(COHORT_HAVE_CUDNN OFF)
    if(COHORT_CUDNN_LIBRARY AND COHORT_CUDNN_INCLUDE)
      set(COHORT_HAVE_CUDNN ON)  # batch norm on the GPU; without it those ops throw a clear error
    endif()
    if(COHORT_NCCL_LIBRARY AND COHORT_NCCL_INCLUDE)
      set(COHORT_HAVE_NCCL ON)
    endif()
  endif()
endif()

set(COHORT_HAVE_MPI OFF)
if(COHORT_ENABLE_MPI)
  find_package(MPI COMPONENTS CXX)
  if(MPI_CXX_FOUND)
    set(COHORT_HAVE_MPI ON)
  endif()
endif()

if(COHORT_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()
if(COHORT_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()

# Compile definitions every target sees, so a header can ask which backends exist. Exported as
# cohort::config (cmake/CohortInstall.cmake): a project using the installed package gets the same
# definitions, C++ standard and include root, so it includes headers as the examples do.
add_library(cohort_config INTERFACE)
target_compile_features(cohort_config INTERFACE cxx_std_20)
target_compile_definitions(cohort_config INTERFACE
  COHORT_VERSION="${PROJECT_VERSION}"
  $<$<BOOL:${COHORT_HAVE_CUDA}>:COHORT_WITH_CUDA=1>
  $<$<BOOL:${COHORT_HAVE_NCCL}>:COHORT_WITH_NCCL=1>
  $<$<BOOL:${COHORT_HAVE_MPI}>:COHORT_WITH_MPI=1>)
target_include_directories(cohort_config INTERFACE
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}> $<INSTALL_INTERFACE:${COHORT_INSTALL_INCLUDEDIR}>)
# A ThreadSanitizer build's static libraries need the sanitizer runtime in whatever links them.
if(COHORT_SANITIZE_THREAD)
  target_link_options(cohort_config INTERFACE $<INSTALL_INTERFACE:-fsanitize=thread>)
endif()
