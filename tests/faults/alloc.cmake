# Allocation failure (issue 9, item 4).  amanat-relay-allocfault is the
# relay's own main.c and library with the hooks of alloc_hook.c: a
# test-only binary, built here and never installed, so the production
# amanat-relay has no way to fail an allocation on purpose.
add_executable(amanat-relay-allocfault ${PROJECT_SOURCE_DIR}/relay/main.c
               alloc_hook.c)
target_compile_definitions(amanat-relay-allocfault PRIVATE AM_ALLOC_FAULTS)
target_include_directories(amanat-relay-allocfault PRIVATE
                           ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(amanat-relay-allocfault PRIVATE amanat_relay)

add_executable(test-alloc test-alloc.c alloc_proc.c alloc_work.c
               ../integration/relay_client.c ../integration/relay_fixture.c)
target_include_directories(test-alloc PRIVATE ../integration)
target_link_libraries(test-alloc PRIVATE amanat_common PkgConfig::CMOCKA)
# Short mode: a stride over N (printed); the long mode is --every, by hand.
add_test(NAME faults-alloc
         COMMAND test-alloc $<TARGET_FILE:amanat-relay-allocfault>)
set_tests_properties(faults-alloc PROPERTIES TIMEOUT 600 LABELS faults)
