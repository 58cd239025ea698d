# Slicer skips packaging when the extension name differs from the project, and fails without README or LICENSE.
foreach(var EXTENSION_HOMEPAGE EXTENSION_CATEGORY EXTENSION_CONTRIBUTORS EXTENSION_DESCRIPTION EXTENSION_ICONURL
            EXTENSION_SCREENSHOTURLS EXTENSION_DEPENDS EXTENSION_README_FILE EXTENSION_LICENSE_FILE)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "${var} is not set")
  endif()
  file(APPEND "${SLICER_STUB_RECORD}" "metadata|${var}|${${var}}\n")
endforeach()
foreach(file "${EXTENSION_README_FILE}" "${EXTENSION_LICENSE_FILE}")
  if(NOT EXISTS "${file}")
    message(FATAL_ERROR "packaging needs ${file}")
  endif()
endforeach()
file(APPEND "${SLICER_STUB_RECORD}" "metadata|PROJECT_NAME|${PROJECT_NAME}\n")
