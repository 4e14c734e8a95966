# Install rules and the CMake package: `cmake --install build --prefix P` puts the libraries in
# P/lib, the public headers in P/include/cohort (the same paths the examples include: "memory/...",
# "kernels/...", "src/...", "parallel/..."), the `cohort` CLI in P/bin, and cohortConfig.cmake with
# the exported targets cohort::memory, cohort::kernels, cohort::data, cohort::core,
# cohort::parallel (plus cohort::config and cohort::openblas, which they use) in
# P/lib/cmake/cohort, for a project's find_package(cohort CONFIG REQUIRED).
#
# launch/ (cohort_launch) is not exported: it is the CLI's internals (flags, subcommands), needs
# Boost.Program_options, and a program using the library builds on cohort::parallel instead.
include(CMakePackageConfigHelpers)

set(COHORT_EXPORTED_LIBRARIES cohort_config cohort_openblas cohort_memory cohort_kernels cohort_data
    cohort_core cohort_parallel)
foreach(target IN LISTS COHORT_EXPORTED_LIBRARIES)
  string(REPLACE "cohort_" "" exported_name ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${exported_name})
  # The same names inside this build, so code written against the package also builds here
  # (add_subdirectory / FetchContent).
  add_library(cohort::${exported_name} ALIAS ${target})
endforeach()

if(NOT COHORT_INSTALL)
  return()
endif()

set(COHORT_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/cohort
    CACHE STRING "Where cohortConfig.cmake is installed (relative to the prefix)")

install(TARGETS ${COHORT_EXPORTED_LIBRARIES} EXPORT cohortTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})

# The CLI and the CUDA modules (P/lib/cohort/libcohort_cuda_*.so, where memory/CudaModule.cpp looks
# from P/bin). Their libraries (MPI; CUDA, cuDNN and NCCL for the modules) are found by path at
# build time: keep those directories as their RPATH so the installed files run without
# LD_LIBRARY_PATH.
set_target_properties(cohort PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)
install(TARGETS cohort RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
get_property(COHORT_CUDA_MODULE_TARGETS GLOBAL PROPERTY COHORT_CUDA_MODULE_TARGETS)
if(COHORT_CUDA_MODULE_TARGETS)
  install(TARGETS ${COHORT_CUDA_MODULE_TARGETS} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/cohort)
endif()
# The symbols an executable exports for the module (cohort::config's link options name this file).
install(FILES ${PROJECT_SOURCE_DIR}/cmake/cohort-exports.list DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cohort)

# Public headers, folder layout kept. Not installed: the .cuh files (included only by .cu/.cpp
# files of kernels/cuda), memory/cuda/ (internal to memory/, needs the CUDA headers),
# parallel/NcclCheck.h (internal to the NCCL .cpp files, needs nccl.h), and parallel/mpi/ in a
# build without MPI (its headers include mpi.h and their code is not compiled).
# kernels/cuda/CudaBackend.h and parallel/NcclCommunicator.h are meant for every build.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/memory/ DESTINATION ${COHORT_INSTALL_INCLUDEDIR}/memory
        FILES_MATCHING PATTERN "*.h" PATTERN "cuda" EXCLUDE)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/kernels/ DESTINATION ${COHORT_INSTALL_INCLUDEDIR}/kernels
        FILES_MATCHING PATTERN "*.h")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/src/ DESTINATION ${COHORT_INSTALL_INCLUDEDIR}/src
        FILES_MATCHING PATTERN "*.h")
set(COHORT_PARALLEL_HEADER_EXCLUDES PATTERN "NcclCheck.h" EXCLUDE)
if(NOT COHORT_HAVE_MPI)
  list(APPEND COHORT_PARALLEL_HEADER_EXCLUDES PATTERN "mpi" EXCLUDE)
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/parallel/ DESTINATION ${COHORT_INSTALL_INCLUDEDIR}/parallel
        FILES_MATCHING PATTERN "*.h" ${COHORT_PARALLEL_HEADER_EXCLUDES})

install(EXPORT cohortTargets NAMESPACE cohort:: DESTINATION ${COHORT_INSTALL_CMAKEDIR})

# Libraries the exported targets name by absolute path (OpenBLAS, oneDNN): the package
# config checks that they are still there, so a missing one is a clear find_package error
# rather than a link failure.
set(COHORT_ABSOLUTE_LIBRARIES ${COHORT_OPENBLAS_LIBRARY})
if(COHORT_HAVE_DNNL)
  list(APPEND COHORT_ABSOLUTE_LIBRARIES ${COHORT_DNNL_LIBRARY})
endif()

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/cohortConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cohortConfig.cmake
  INSTALL_DESTINATION ${COHORT_INSTALL_CMAKEDIR})
# 0.x: a new minor version may change the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cohortConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cohortConfig.cmake ${PROJECT_BINARY_DIR}/cohortConfigVersion.cmake
        DESTINATION ${COHORT_INSTALL_CMAKEDIR})
