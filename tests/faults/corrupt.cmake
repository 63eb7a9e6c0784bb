# Store corruption (issue 9, item 5): one bit flip or truncation of the
# stopped relay's store file per trial, at offsets over the whole file;
# on restart the relay delivers every undamaged envelope, reports the
# damaged ones to their sender (DAMAGED evidence) and, when it salvaged
# the file, names in lost.txt what it could not read back; or it refuses
# to start naming the damage.  Then the store cut in the middle: what lay
# before the cut is delivered.  Then bit flips in the -wal and -shm a
# killed relay left: every acknowledged message still delivered, reported
# or listed.  60 + 40 + 8 trials here; by hand: test-corrupt RELAY
# --rounds N.
add_executable(test-corrupt test-corrupt.c corrupt_run.c corrupt_db.c
               ../integration/relay_client.c ../integration/relay_fixture.c)
target_include_directories(test-corrupt PRIVATE ../integration)
target_link_libraries(test-corrupt PRIVATE amanat_common PkgConfig::CMOCKA
                      PkgConfig::SQLITE
                      Threads::Threads)
add_test(NAME faults-corrupt
         COMMAND test-corrupt $<TARGET_FILE:amanat-relay>)
set_tests_properties(faults-corrupt PROPERTIES TIMEOUT 240 LABELS faults)
