# message: personal.eml
require ["vacation", "fileinto"];
fileinto "Away";
vacation :days 1 :mime "Content-Type: text/plain; charset=utf-8

Away.";
