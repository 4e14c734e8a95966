# The CUDA modules (memory/CudaModule.h): every file that touches CUDA, cuBLAS, cuDNN or NCCL goes
# into one shared object per layer, which that layer's loader opens when a GPU is first used:
#   libcohort_cuda_memory.so   memory/cuda            (global property COHORT_CUDA_MODULE_memory)
#   libcohort_cuda_kernels.so  kernels/cuda           (COHORT_CUDA_MODULE_kernels)
#   libcohort_cuda_nccl.so     parallel's NCCL files  (COHORT_CUDA_MODULE_nccl)
# Executables never link them, so a CPU run, `cohort info` without a driver, report, plan and every
# CPU rank map no CUDA library, and the executable starts where they are absent. One module per
# layer, so a program that links only memory/ (or only kernels/) can still load its part.
#
# A module links only CUDA libraries (and MPI, for NCCL's bootstrap). The few cohort functions it
# calls (MemoryBudget, sizeOf, Communicator::forEachSlice, ...) are the executable's own: every
# executable that links cohort exports its cohort symbols (cohort-exports.list, in cohort_config's
# link options below), and each loader names what its module calls, so that the executable holds
# them. Loading is RTLD_NOW: a missing symbol is a load error the loaders report, and tests load
# each module in the test programs of its layer (tests/memory, tests/kernels, tests/parallel).
function(cohort_cuda_module part layer)
  get_property(sources GLOBAL PROPERTY COHORT_CUDA_MODULE_${part})
  if(NOT sources)
    return()
  endif()
  add_library(cohort_cuda_${part} MODULE ${sources})
  set_target_properties(cohort_cuda_${part} PROPERTIES
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lib
    CUDA_SEPARABLE_COMPILATION OFF
    INSTALL_RPATH_USE_LINK_PATH ON)
  target_link_libraries(cohort_cuda_${part} PRIVATE cohort_config Threads::Threads ${CMAKE_DL_LIBS} CUDA::cudart
                        ${ARGN})
  # Whatever links the layer (and so may load the module) builds the module first.
  add_dependencies(${layer} cohort_cuda_${part})
  set_property(GLOBAL APPEND PROPERTY COHORT_CUDA_MODULE_TARGETS cohort_cuda_${part})
endfunction()

if(COHORT_HAVE_CUDA)
  cohort_cuda_module(memory cohort_memory)
  set(kernel_libraries CUDA::cublas)
  if(COHORT_HAVE_CUDNN)
    list(APPEND kernel_libraries ${COHORT_CUDNN_LIBRARY})
  endif()
  cohort_cuda_module(kernels cohort_kernels ${kernel_libraries})
  if(COHORT_HAVE_CUDNN)
    target_include_directories(cohort_cuda_kernels PRIVATE ${COHORT_CUDNN_INCLUDE})
  endif()
  if(COHORT_HAVE_NCCL)
    cohort_cuda_module(nccl cohort_parallel ${COHORT_NCCL_LIBRARY} $<$<BOOL:${COHORT_HAVE_MPI}>:MPI::MPI_CXX>)
    target_include_directories(cohort_cuda_nccl PRIVATE ${COHORT_NCCL_INCLUDE})
  endif()
endif()

# Executables export their cohort symbols for the modules (harmless without them: entries in the
# dynamic symbol table).
target_link_options(cohort_config INTERFACE
  "$<$<STREQUAL:$<TARGET_PROPERTY:TYPE>,EXECUTABLE>:LINKER:--dynamic-list=$<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/cmake/cohort-exports.list>$<INSTALL_INTERFACE:$<INSTALL_PREFIX>/${CMAKE_INSTALL_LIBDIR}/cmake/cohort/cohort-exports.list>>")
set_property(TARGET cohort_config APPEND PROPERTY INTERFACE_LINK_DEPENDS
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/cmake/cohort-exports.list>)
