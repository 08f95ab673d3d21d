// TEMPORARY STUB (being implemented now): every function throws. Replace this whole file.
#include "data/render/canvas.h"
#include "util/error.h"
namespace muse {
const std::vector<std::pair<std::string, Color>>& named_colors() { throw MuseError("not implemented"); }
Color color_by_name(const std::string&) { throw MuseError("not implemented"); }
const char* shape_name(Shape) { throw MuseError("not implemented"); }
Canvas::Canvas(int, int, Color) { throw MuseError("not implemented"); }
void Canvas::set(int, int, Color) { throw MuseError("not implemented"); }
void Canvas::fill_rect(int, int, int, int, Color) { throw MuseError("not implemented"); }
void Canvas::fill_circle(int, int, int, Color) { throw MuseError("not implemented"); }
void Canvas::fill_triangle(int, int, int, int, int, int, Color) { throw MuseError("not implemented"); }
void Canvas::draw_shape(Shape, int, int, int, Color) { throw MuseError("not implemented"); }
void Canvas::draw_line(int, int, int, int, Color, int) { throw MuseError("not implemented"); }
void Canvas::draw_text(int, int, const std::string&, Color, int) { throw MuseError("not implemented"); }
int Canvas::text_width(const std::string&, int) { throw MuseError("not implemented"); }
int Canvas::text_height(int) { throw MuseError("not implemented"); }
}
