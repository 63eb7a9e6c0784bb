# I/O errors (issue 9, item 3): an LD_PRELOAD shim (ioerr.c) makes the
# Nth write, fsync, open or rename under the relay's folders fail with
# ENOSPC or EIO; test-ioerr sweeps N over a short submit-and-deliver run,
# then fills a real 1 MiB tmpfs.  Short mode here (about 30 s; 40 s under
# ASan); the long mode by hand (every N, both errnos: some minutes):
#   build/tests/faults/test-ioerr build/relay/amanat-relay \
#       build/tests/faults/libioerr.so --every
# In the ASan build the shim gets the same flags as the relay, and the
# relay is started with ASAN_OPTIONS=verify_asan_link_order=0: ASan
# otherwise refuses any preloaded library ahead of its runtime.
add_library(ioerr MODULE ioerr.c)
target_link_libraries(ioerr PRIVATE ${CMAKE_DL_LIBS} Threads::Threads)

add_executable(test-ioerr test-ioerr.c ioerr_run.c ioerr_relay.c
               ioerr_disk.c ../integration/relay_client.c
               ../integration/relay_fixture.c)
target_include_directories(test-ioerr PRIVATE ../integration)
target_link_libraries(test-ioerr PRIVATE amanat_common PkgConfig::CMOCKA)
add_test(NAME faults-ioerr
         COMMAND test-ioerr $<TARGET_FILE:amanat-relay> $<TARGET_FILE:ioerr>)
set_tests_properties(faults-ioerr PROPERTIES TIMEOUT 300 LABELS faults)
