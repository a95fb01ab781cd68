# webpush_check_headers(<target> <header>...): builds one translation unit per public header that
# includes only that header, so a header that does not compile alone fails the build
# (style.md §2; the idea of scylladb/seastar's CheckHeaders.cmake).
function(webpush_check_headers target)
  set(sources "")
  foreach(header IN LISTS ARGN)
    file(RELATIVE_PATH rel "${PROJECT_SOURCE_DIR}" "${CMAKE_CURRENT_SOURCE_DIR}/${header}")
    string(MAKE_C_IDENTIFIER "${rel}" id)
    set(tu "${CMAKE_CURRENT_BINARY_DIR}/header_check/${id}.cc")
    file(CONFIGURE OUTPUT "${tu}" CONTENT "#include \"${rel}\"  // must compile alone\n")
    list(APPEND sources "${tu}")
  endforeach()
  add_library(${target}_header_check OBJECT ${sources})
  target_link_libraries(${target}_header_check PRIVATE ${target} webpush_options)
endfunction()
