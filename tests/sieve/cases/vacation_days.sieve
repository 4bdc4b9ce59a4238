# message: personal.eml
require "vacation";
vacation :days 3 :subject "Away" :from "bob@example.org" :addresses ["bob@example.org", "robert@example.org"] :handle "h1" "I am away until Monday.
Ask carol@example.org for urgent things.";
