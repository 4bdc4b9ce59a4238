# expect: error
require "foreverypart";
break;
