// The stb single-file libraries, compiled here from Debian's libstb-dev headers rather than linked from
// libstb.so: the decoder then accepts only the two formats Muse reads (less code exposed to untrusted files),
// and machines that have the headers but not the library (a CUDA box with header-only deps) build the same.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb_image.h>
#include <stb_image_resize.h>
#include <stb_image_write.h>
