# A stand-in for an installed Slicer SDK, for configuring SparseLabel's CMake files without building Slicer.
# Its macros fail like Slicer's on a missing file and record every file they would install in
# ${CMAKE_BINARY_DIR}/slicer-stub-install.txt, which Testing/test_extension_layout.py reads.
set(Slicer_USE_FILE "${CMAKE_CURRENT_LIST_DIR}/UseSlicer.cmake")
set(Slicer_EXTENSION_GENERATE_CONFIG "${CMAKE_CURRENT_LIST_DIR}/ExtensionGenerateConfig.cmake")
set(Slicer_EXTENSION_CPACK "${CMAKE_CURRENT_LIST_DIR}/ExtensionCPack.cmake")
