# Compiles every src/core/*.c as a freestanding C11 translation unit (-fsyntax-only), once with
# the default options and once with every optional mechanism switched off. Run by ctest:
#   cmake -DCC=<compiler> -DSOURCE_DIR=<repo> -DMBEDTLS_INCLUDE_DIR=<dir> -P core_freestanding.cmake
file(GLOB sources ${SOURCE_DIR}/src/core/*.c)
if(NOT sources)
  message(FATAL_ERROR "no sources in ${SOURCE_DIR}/src/core")
endif()

set(variants "default" "-DSMTPKIT_WITH_CRAM_MD5=0 -DSMTPKIT_WITH_OAUTH=0 -DSMTPKIT_WITH_LOGIN=0")
foreach(variant IN LISTS variants)
  set(defines "")
  if(NOT variant STREQUAL "default")
    separate_arguments(defines UNIX_COMMAND "${variant}")
  endif()
  foreach(source IN LISTS sources)
    execute_process(
      COMMAND ${CC} -std=c11 -ffreestanding -fsyntax-only -Wall -Wextra -Werror -Wshadow
        -Wstrict-prototypes ${defines} -Iinclude -Isrc -I${MBEDTLS_INCLUDE_DIR} ${source}
      WORKING_DIRECTORY ${SOURCE_DIR}
      RESULT_VARIABLE rc
      ERROR_VARIABLE errors)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "${source} (${variant}) does not compile freestanding:\n${errors}")
    endif()
  endforeach()
  message(STATUS "freestanding ${variant}: OK")
endforeach()
