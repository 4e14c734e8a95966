// Anchor translation unit so the parallel library always has one object.
namespace cohort::parallel { int libraryAnchor() { return 0; } }
