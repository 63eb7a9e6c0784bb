# Simulated power loss (issue 9): the relay runs with the shim preloaded,
# which journals every change to its data folder; after each SIGKILL the
# test discards what no fsync made durable and restarts the relay on the
# rest.  ctest runs 20 rounds; by hand, --rounds 200 (or more) and --seed.
add_library(powercut MODULE powercut.c powercut_names.c powercut_track.c)
target_link_libraries(powercut PRIVATE ${CMAKE_DL_LIBS} Threads::Threads)
set_target_properties(powercut PROPERTIES PREFIX "") # powercut.so

add_executable(test-powercut test-powercut.c powercut_cut.c powercut_fs.c)
target_link_libraries(test-powercut PRIVATE crash_load PkgConfig::SQLITE)

# A relay built with AddressSanitizer wants its runtime first among the
# libraries it loads: preload it ahead of the shim.
set(AM_POWERCUT_PRELOAD $<TARGET_FILE:powercut>)
if(AM_SANITIZE OR AM_FUZZ)
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
                  OUTPUT_VARIABLE AM_ASAN_RUNTIME
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  set(AM_POWERCUT_PRELOAD "${AM_ASAN_RUNTIME}:$<TARGET_FILE:powercut>")
endif()
add_test(NAME faults-powercut
         COMMAND test-powercut $<TARGET_FILE:amanat-relay>
                 ${AM_POWERCUT_PRELOAD} --rounds 20)
set_tests_properties(faults-powercut PROPERTIES TIMEOUT 300 LABELS faults)

# The shim and the cut against known sequences of calls (keep-all and
# keep-none cuts must give exactly the expected files).
add_executable(test-powercut-model test-powercut-model.c powercut_cut.c
               powercut_fs.c)
target_link_libraries(test-powercut-model PRIVATE amanat_common
                      PkgConfig::CMOCKA)
add_test(NAME faults-powercut-model
         COMMAND test-powercut-model ${AM_POWERCUT_PRELOAD})
set_tests_properties(faults-powercut-model PROPERTIES TIMEOUT 60
                     LABELS faults)
