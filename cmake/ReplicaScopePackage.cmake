# SPDX-License-Identifier: MIT
# The Debian packages, made by CPack's DEB generator in build/ (`cpack -G DEB`; scripts/check.sh's
# package phase): replicascope_<version>_amd64.deb holds the programs and the desktop files
# (components gui and cli), its dependencies computed by dpkg-shlibdeps; replicascope-dev the
# core's headers, static library and CMake package ReplicaScope::core (component dev).
include(GNUInstallDirs)

# Each package's copyright (machine-readable, DEP-5) and changelog, where Debian wants them.
set(replicascope_changelog ${PROJECT_BINARY_DIR}/debian/changelog.gz)
add_custom_command(OUTPUT ${replicascope_changelog}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/debian
  COMMAND sh -c "gzip -9nc \"$0\" > \"$1\"" ${PROJECT_SOURCE_DIR}/resources/debian/changelog
    ${replicascope_changelog}
  DEPENDS ${PROJECT_SOURCE_DIR}/resources/debian/changelog VERBATIM)
add_custom_target(replicascope_changelog ALL DEPENDS ${replicascope_changelog})
foreach(package_component IN ITEMS replicascope:cli replicascope-dev:dev)
  string(REPLACE ":" ";" pair ${package_component})
  list(GET pair 0 package)
  list(GET pair 1 component)
  install(FILES ${PROJECT_SOURCE_DIR}/resources/debian/copyright ${replicascope_changelog}
    DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${package} COMPONENT ${component})
endforeach()

set(REPLICASCOPE_PACKAGE_MAINTAINER "The ReplicaScope developers <replicascope@example.org>"
  CACHE STRING "the Maintainer field of the Debian packages")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME replicascope)
set(CPACK_PACKAGE_VENDOR "The ReplicaScope developers")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
  GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL gui cli dev)
set(CPACK_COMPONENTS_GROUPING ONE_PER_GROUP)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # replicascope_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${REPLICASCOPE_PACKAGE_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE https://github.com/replicascope/replicascope)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_PROGRAMS_PACKAGE_NAME replicascope)
set(CPACK_DEBIAN_PROGRAMS_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PROGRAMS_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PROGRAMS_PACKAGE_RECOMMENDS dataset-fashion-mnist)  # the demo's data
# Debian's descriptions: the synopsis, then the extended text in lines under 80 columns.
set(CPACK_DEBIAN_PROGRAMS_DESCRIPTION
  "visual debugger for data-parallel training with synchronized BatchNorm
ReplicaScope runs a model on several copies (CPU or CUDA devices, and processes
over Gloo or NCCL), synchronizes their BatchNorm statistics, and shows each
copy's statistics beside the synchronized ones while the training steps: the
module tree, the wiring of copies to each layer's synchronization, plots over
steps and per channel, breakpoints that pause every copy at a layer, and
recorded runs opened and compared.
.
This package holds the desktop debugger (replicascope), the command line
(replicascope-cli: demo, inspect, wiring, verify, train, launch, export, runs),
the menu entry and the file type of run files.")

set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME replicascope-dev)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS
  "libtorch-dev, libsqlite3-dev, zlib1g-dev, libpng-dev, libjpeg-dev")
set(CPACK_DEBIAN_DEVELOPMENT_DESCRIPTION
  "synchronized BatchNorm for LibTorch (development files)
The ReplicaScope core library: replication callbacks, a rendezvous between
copies, synchronized BatchNorm whose forward and backward equal BatchNorm on
the whole batch, data-parallel training and the run file store.
.
This package holds the headers, the static library and the CMake package:
find_package(ReplicaScope), then link ReplicaScope::core.")

include(CPack)
cpack_add_component_group(programs)
cpack_add_component_group(development)
cpack_add_component(gui GROUP programs)
cpack_add_component(cli GROUP programs)
cpack_add_component(dev GROUP development)
