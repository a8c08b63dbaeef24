# Installs the sample config at install time, not configure time:
# GNUInstallDirs resolves sysconfdir to /etc only when the prefix given at
# configure time is /usr, so `cmake --install build --prefix /usr` on a tree
# configured for /usr/local would otherwise put it in /usr/etc. Mirrors
# GNUInstallDirs: prefix / or /usr -> /etc, /opt/X -> /etc/opt/X, else
# PREFIX/etc. An absolute CMAKE_INSTALL_SYSCONFDIR given at configure time
# (passed in as AUTHD_SYSCONFDIR) wins. DESTDIR is honoured by file(INSTALL).
if(IS_ABSOLUTE "${AUTHD_SYSCONFDIR}")
  set(_etc "${AUTHD_SYSCONFDIR}")
elseif(CMAKE_INSTALL_PREFIX MATCHES "^/(usr/?)?$")
  set(_etc "/etc")
elseif(CMAKE_INSTALL_PREFIX MATCHES "^/opt/")
  set(_etc "/etc${CMAKE_INSTALL_PREFIX}")
else()
  set(_etc "${CMAKE_INSTALL_PREFIX}/${AUTHD_SYSCONFDIR}")
endif()
file(INSTALL DESTINATION "${_etc}/authd" TYPE FILE
     RENAME authd.toml.example
     FILES "${CMAKE_CURRENT_LIST_DIR}/authd.toml")
