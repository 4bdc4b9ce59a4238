# to: bob@example.org
# to: carol@example.org
# reference: no - several recipients
require "reject";
reject "Go away.";
