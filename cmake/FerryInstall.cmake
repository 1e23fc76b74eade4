# Installs ferryc, the runtime, the public headers and a package config so that another project
# can find_package(ferry) and use ferry_add_idl() with the same target names as in-tree.
include(CMakePackageConfigHelpers)

set(FERRY_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/ferry")

install(TARGETS ferryc ferry_cli ferry_runtime EXPORT ferryTargets
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}")
install(DIRECTORY "${PROJECT_SOURCE_DIR}/runtime/include/ferry"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
# The built-in services' generated headers (ferry.Reflection, ferry.Health).
install(FILES "${PROJECT_BINARY_DIR}/runtime/public/ferry/reflection_generated.h"
              "${PROJECT_BINARY_DIR}/runtime/public/ferry/reflection.ferry.h"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/ferry")
install(EXPORT ferryTargets NAMESPACE ferry:: DESTINATION "${FERRY_CMAKE_DIR}")

configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/ferryConfig.cmake.in"
                              "${PROJECT_BINARY_DIR}/ferryConfig.cmake"
                              INSTALL_DESTINATION "${FERRY_CMAKE_DIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/ferryConfigVersion.cmake"
                                 COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/ferryConfig.cmake"
              "${PROJECT_BINARY_DIR}/ferryConfigVersion.cmake"
              "${PROJECT_SOURCE_DIR}/cmake/FerryAddIdl.cmake"
        DESTINATION "${FERRY_CMAKE_DIR}")
