# Hostile peers (issue 9, item 6): half-open connections, the per-address
# handshake limit, slowloris, random bytes, garbage after valid
# handshakes, 4 GiB frame lengths, a quota flood and descriptor
# exhaustion against one real relay, while an honest client submits and
# receives.  One round here (about 10 s); by hand: test-hostile RELAY
# --rounds N.
add_executable(test-hostile test-hostile.c hostile_proc.c hostile_preauth.c
               hostile_auth.c hostile_flood.c hostile_emfile.c
               ../integration/proc_stat.c
               ../integration/relay_client.c ../integration/relay_fixture.c)
target_include_directories(test-hostile PRIVATE ../integration)
target_link_libraries(test-hostile PRIVATE amanat_common PkgConfig::CMOCKA
                      Threads::Threads)
add_test(NAME faults-hostile
         COMMAND test-hostile $<TARGET_FILE:amanat-relay>)
set_tests_properties(faults-hostile PROPERTIES TIMEOUT 180 LABELS faults)
