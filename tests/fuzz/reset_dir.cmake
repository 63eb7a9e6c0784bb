# cmake -DDIR=<dir> -P reset_dir.cmake: empty DIR, so that each fuzz run
# starts from the committed seeds only.
if(NOT DIR)
  message(FATAL_ERROR "reset_dir.cmake: DIR is not set")
endif()
file(REMOVE_RECURSE "${DIR}")
file(MAKE_DIRECTORY "${DIR}")
