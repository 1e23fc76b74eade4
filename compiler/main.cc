// ferryc: generates ferry stubs and skeletons (and flatc's message code) from FlatBuffers
// schemas. See compiler.h for the command line.
#include <iostream>
#include <string>
#include <vector>

#include "compiler.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return ferryc::RunCommandLine(args, std::cerr);
}
