# message: multipart.eml
# to: team@example.org
require ["mime", "reject"];
if anyof (header :mime :anychild :param "filename" :matches "Content-Disposition" "*.exe",
          header :mime :anychild :param "name" :matches "Content-Type" "*.exe") {
  reject "executables are not accepted";
}
