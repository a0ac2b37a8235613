# natmod_xfer: module install over a byte stream (an asi2c channel or a
# tty): the sender and the receiver state machines, freestanding.
add_library(natmod_xfer STATIC ${NATMOD_XFER_SOURCES})
target_link_libraries(natmod_xfer PUBLIC natmod_asi2c natmod_store natmod_format)
