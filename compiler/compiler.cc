// The ferryc driver: command line, the per-input pipeline, the depfile and the final writes.
#include "compiler.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "emit.h"
#include "flatc_runner.h"
#include "schema_model.h"
#include "validate.h"

namespace ferryc {
namespace {

namespace fs = std::filesystem;

std::string EscapeMake(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == ' ' || c == '#' || c == '\\') out += '\\';
    if (c == '$') out += '$';
    out += c;
  }
  return out;
}

constexpr const char* kUsage =
    "usage: ferryc -o <outdir> [-I <dir>]... [--gen-includes] [--flatc-arg <arg>]...\n"
    "              [--depfile <file>] [--flatc <path>] <file.idl|file.fbs>...\n"
    "  -I <dir>            where includes are looked for (after the schema's own directory)\n"
    "  --gen-includes      also generate every schema the inputs include, transitively\n"
    "  --flatc-arg <arg>   pass <arg> to flatc (for example --gen-object-api); repeatable\n"
    "  --depfile <file>    write a make rule naming every schema the outputs depend on\n"
    "  --flatc <path>      the flatc to run (default: flatc on PATH)\n";

// One schema to compile, and the extra place its includes are looked for: an included schema
// is compiled the way its includer's parse found its includes (the includer's directory).
struct Job {
  std::string input;
  std::vector<std::string> include_dirs;
};

}  // namespace

CompileResult Compile(const CompilerOptions& options) {
  CompileResult result;
  std::vector<GeneratedFile> files;
  std::vector<std::string> outputs;
  std::set<std::string> dependencies_seen;
  std::vector<std::string> dependencies;
  std::map<std::string, std::string> stems;  // stem -> input, to catch two inputs one output
  const std::string flatc = options.flatc.empty() ? DefaultFlatc() : options.flatc;

  std::vector<Job> jobs;
  std::set<std::string> queued;
  for (const std::string& input : options.inputs) {
    jobs.push_back({input, options.include_dirs});
    queued.insert(fs::absolute(input).lexically_normal().string());
  }
  for (size_t job = 0; job < jobs.size(); ++job) {
    const std::string input = jobs[job].input;
    const std::vector<std::string> include_dirs = jobs[job].include_dirs;  // jobs may grow
    // The stem is spelled inside #include "..." lines of the outputs, which have no escapes.
    const std::string stem = fs::path(input).stem().string();
    if (stem.find_first_of("\"\\") != std::string::npos ||
        std::any_of(stem.begin(), stem.end(), [](char c) { return c >= 0 && c < 0x20; })) {
      result.diagnostics.push_back({input, 0, 0,
                                    "the file name cannot appear in a C++ #include line (it "
                                    "contains '\"', '\\' or a control character); rename it",
                                    Severity::kError});
      continue;
    }
    LoadResult loaded = LoadSchema(input, include_dirs);
    for (Diagnostic& d : loaded.diagnostics) result.diagnostics.push_back(std::move(d));
    if (!loaded.schema) continue;
    const Schema& schema = *loaded.schema;
    if (options.gen_includes) {
      std::vector<std::string> dirs = include_dirs;
      dirs.insert(dirs.begin(), fs::path(schema.dependencies.front()).parent_path().string());
      for (size_t i = 1; i < schema.dependencies.size(); ++i) {
        if (queued.insert(schema.dependencies[i]).second) {
          jobs.push_back({schema.dependencies[i], dirs});
        }
      }
    }

    auto [it, inserted] = stems.emplace(schema.stem, input);
    if (!inserted) {
      result.diagnostics.push_back(
          {input, 0, 0, "writes the same outputs (" + schema.stem + ".*) as " + it->second,
           Severity::kError});
      continue;
    }
    // flatc names headers after the file's stem: an included a.fbs of an a.idl would make
    // a_generated.h include itself instead of a.fbs's header.
    bool stem_clash = false;
    for (size_t i = 1; i < schema.dependencies.size(); ++i) {
      if (fs::path(schema.dependencies[i]).stem() == schema.stem) {
        result.diagnostics.push_back({input, 0, 0,
                                      "includes " + schema.dependencies[i] +
                                          ", whose flatc header would also be " + schema.stem +
                                          "_generated.h; rename one of them",
                                      Severity::kError});
        stem_clash = true;
      }
    }
    if (stem_clash) continue;
    std::vector<Diagnostic> problems = Validate(schema, options.runtime_schema);
    if (!problems.empty()) {
      for (Diagnostic& d : problems) result.diagnostics.push_back(std::move(d));
      continue;
    }

    const fs::path out(options.out_dir);
    if (options.run_flatc && result.ok()) {  // no flatc run once nothing will be written
      FlatcOutput messages = RunFlatc(flatc, input, input, include_dirs, schema.dependencies,
                                      options.flatc_args);
      for (Diagnostic& d : messages.diagnostics) result.diagnostics.push_back(std::move(d));
      if (!messages.ok) continue;
      files.push_back({(out / (schema.stem + "_generated.h")).string(), messages.header});
    }
    files.push_back({(out / (schema.stem + ".ferry.h")).string(), EmitHeader(schema)});
    files.push_back({(out / (schema.stem + ".ferry.cc")).string(), EmitSource(schema)});
    for (const char* suffix : {"_generated.h", ".ferry.h", ".ferry.cc"}) {
      outputs.push_back(fs::absolute(out / (schema.stem + suffix)).lexically_normal().string());
    }
    for (const std::string& dep : schema.dependencies) {
      if (dependencies_seen.insert(dep).second) dependencies.push_back(dep);
    }
  }

  if (!result.ok()) return result;
  if (!options.depfile.empty()) {
    files.push_back({options.depfile, DepfileText(outputs, dependencies)});
  }
  result.files = std::move(files);
  return result;
}

std::string DepfileText(const std::vector<std::string>& outputs,
                        const std::vector<std::string>& dependencies) {
  std::string text;
  for (size_t i = 0; i < outputs.size(); ++i) {
    text += (i == 0 ? "" : " \\\n") + EscapeMake(outputs[i]);
  }
  text += ":";
  for (const std::string& dep : dependencies) text += " \\\n  " + EscapeMake(dep);
  text += "\n";
  return text;
}

bool WriteFiles(const std::vector<GeneratedFile>& files, std::vector<Diagnostic>* diagnostics) {
  // Every file goes to a temporary name first and is renamed only once all were written; on
  // any failure everything written so far is removed, so no partial set of outputs remains.
  std::vector<fs::path> temps;
  std::vector<fs::path> renamed;
  auto fail = [&](const std::string& path, const std::string& reason) {
    std::error_code ignored;
    for (const fs::path& temp : temps) fs::remove(temp, ignored);
    for (const fs::path& done : renamed) fs::remove(done, ignored);
    diagnostics->push_back({path, 0, 0, "cannot write file: " + reason, Severity::kError});
    return false;
  };
  for (const GeneratedFile& file : files) {
    const fs::path path(file.path);
    std::error_code error;
    if (path.has_parent_path()) fs::create_directories(path.parent_path(), error);
    if (error) return fail(file.path, error.message());
    const fs::path temp = path.string() + ".tmp" + std::to_string(getpid());
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) return fail(file.path, std::strerror(errno));
    temps.push_back(temp);
    out << file.contents;
    out.close();
    if (!out) return fail(file.path, std::strerror(errno));
  }
  for (size_t i = 0; i < files.size(); ++i) {
    std::error_code error;
    fs::rename(temps[i], files[i].path, error);
    if (error) return fail(files[i].path, error.message());
    renamed.push_back(files[i].path);
  }
  return true;
}

int RunCommandLine(const std::vector<std::string>& args, std::ostream& err) {
  CompilerOptions options;
  auto usage = [&](const std::string& problem) {
    err << "ferryc: " << problem << "\n" << kUsage;
    return 2;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&](std::string* into) {
      if (i + 1 >= args.size()) return false;
      *into = args[++i];
      return true;
    };
    if (arg == "-o") {
      if (!value(&options.out_dir)) return usage("-o needs a directory");
    } else if (arg == "-I") {
      std::string dir;
      if (!value(&dir)) return usage("-I needs a directory");
      options.include_dirs.push_back(dir);
    } else if (arg.rfind("-I", 0) == 0 && arg.size() > 2) {
      options.include_dirs.push_back(arg.substr(2));
    } else if (arg == "--gen-includes") {
      options.gen_includes = true;
    } else if (arg == "--flatc-arg" || arg.rfind("--flatc-arg=", 0) == 0) {
      std::string flatc_arg;
      if (arg == "--flatc-arg") {
        if (!value(&flatc_arg)) return usage("--flatc-arg needs an argument");
      } else {
        flatc_arg = arg.substr(std::strlen("--flatc-arg="));
      }
      if (std::string why = RefusedFlatcArg(flatc_arg); !why.empty()) return usage(why);
      options.flatc_args.push_back(flatc_arg);
    } else if (arg == "--runtime-schema") {  // ferry's own build only: not in the usage
      options.runtime_schema = true;
    } else if (arg == "--depfile") {
      if (!value(&options.depfile)) return usage("--depfile needs a file name");
    } else if (arg == "--flatc") {
      if (!value(&options.flatc)) return usage("--flatc needs a path");
    } else if (arg == "-h" || arg == "--help") {
      err << kUsage;
      return 0;
    } else if (!arg.empty() && arg[0] == '-') {
      return usage("unknown option " + arg);
    } else {
      options.inputs.push_back(arg);
    }
  }
  if (options.out_dir.empty()) return usage("missing -o <outdir>");
  if (options.inputs.empty()) return usage("no input files");
  for (const std::string& input : options.inputs) {
    std::ifstream probe(input);
    if (!probe || fs::is_directory(input)) return usage("cannot read " + input);
    std::string ext = fs::path(input).extension().string();
    if (ext != ".idl" && ext != ".fbs") return usage(input + " is not an .idl or .fbs file");
  }

  CompileResult result = Compile(options);
  for (const Diagnostic& d : result.diagnostics) err << FormatDiagnostic(d) << "\n";
  if (!result.ok()) return 1;
  std::vector<Diagnostic> write_errors;
  if (!WriteFiles(result.files, &write_errors)) {
    for (const Diagnostic& d : write_errors) err << FormatDiagnostic(d) << "\n";
    return 1;
  }
  return 0;
}

}  // namespace ferryc
